"""``harness cache info`` and ``harness cache clear``: what the translation cache holds.

Rows are grouped by translator identity (see :mod:`harness.translators.identity`), so ``info``
says which model, with which settings, produced how many cached translations and when.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

CACHE_FILE = "translations.sqlite"


@dataclass(frozen=True)
class CacheGroup:
    """The cached translations of one translator identity."""

    key: str
    model: str
    labels: list[str]
    rows: int
    oldest: float
    newest: float
    identity: dict[str, Any]

    def summary(self) -> str:
        """The settings that tell two identities of one model apart, in one line."""
        ident = self.identity
        parts = [str(ident.get("backend", "?"))]
        if ident.get("endpoint"):
            parts.append(str(ident["endpoint"]))
        runtime = ident.get("runtime") or {}
        parts += [f"{k}={v}" for k, v in runtime.items()]
        settings = ident.get("settings") or {}
        for name in ("num_beams", "max_new_tokens", "preset", "compute_type"):
            if name in settings:
                parts.append(f"{name}={settings[name]}")
        version = (ident.get("versions") or {}).get("harness")
        if version:
            parts.append(f"harness={version}")
        return ", ".join(parts)


def cache_path(cache_dir: str | None) -> Path:
    from harness.config import resolve_cache_dir

    return resolve_cache_dir(cache_dir) / CACHE_FILE


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise HarnessError(f"no translation cache at {path}")
    try:
        db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        db.execute("SELECT COUNT(*) FROM translations").fetchone()
    except sqlite3.DatabaseError as e:
        raise HarnessError(f"translation cache {path} is unusable ({e}); delete it") from e
    return db


def cache_groups(path: Path) -> list[CacheGroup]:
    db = _connect(path)
    try:
        rows = db.execute(
            "SELECT t.translator_key, COUNT(*), MIN(t.created), MAX(t.created), "
            "i.identity, i.model, i.labels FROM translations t "
            "LEFT JOIN identities i ON i.translator_key = t.translator_key "
            "GROUP BY t.translator_key ORDER BY MAX(t.created) DESC"
        ).fetchall()
    except sqlite3.DatabaseError as e:
        raise HarnessError(f"translation cache {path} is unusable ({e}); delete it") from e
    finally:
        db.close()
    return [
        CacheGroup(
            key=key,
            model=model or "(identity not recorded)",
            labels=json.loads(labels) if labels else [],
            rows=int(n),
            oldest=float(oldest),
            newest=float(newest),
            identity=json.loads(identity) if identity else {},
        )
        for key, n, oldest, newest, identity, model, labels in rows
    ]


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def render_info(path: Path, groups: list[CacheGroup], fmt: str) -> str:
    size = path.stat().st_size + sum(
        p.stat().st_size for p in path.parent.glob(path.name + "-*") if p.is_file()
    )
    if fmt == "json":
        payload = {
            "path": str(path),
            "bytes": size,
            "translators": [g.__dict__ for g in groups],
        }
        return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
    total = sum(g.rows for g in groups)
    lines = [
        f"{path}: {size / 1e6:.1f} MB, {total} translations from {len(groups)} translator(s)",
    ]
    if groups:
        lines += ["", "| key | model | names | settings | rows | oldest | newest |"]
        lines.append("|---|---|---|---|---:|---|---|")
        for g in groups:
            lines.append(
                f"| {g.key[:12]} | {g.model} | {', '.join(g.labels)} | {g.summary()} | "
                f"{g.rows} | {_when(g.oldest)} | {_when(g.newest)} |"
            )
    return "\n".join(lines) + "\n"


def clear_cache(path: Path, model: str | None, older_than_days: float | None) -> int:
    """Delete cached translations: of one model (its id or a name it ran under), older than
    some days, or all. Returns the number of rows deleted."""
    db = _connect(path)
    try:
        where, params = [], []
        if model is not None:
            keys = [g.key for g in cache_groups(path) if model == g.model or model in g.labels]
            if not keys:
                raise HarnessError(f"no cached translations of a model called {model!r} in {path}")
            where.append(f"translator_key IN ({','.join('?' * len(keys))})")
            params += keys
        if older_than_days is not None:
            where.append("created < ?")
            params.append(time.time() - older_than_days * 86400)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        db.execute("BEGIN")
        deleted = db.execute(f"DELETE FROM translations{clause}", params).rowcount
        db.execute(
            "DELETE FROM identities WHERE translator_key NOT IN "
            "(SELECT DISTINCT translator_key FROM translations)"
        )
        db.execute("COMMIT")
        db.execute("VACUUM")
    except sqlite3.DatabaseError as e:
        raise HarnessError(f"could not clear {path}: {e}") from e
    finally:
        db.close()
    return int(deleted)


_CACHE_DIR_HELP = "default: the config's cache_dir, $HARNESS_CACHE_DIR or ~/.cache/envi-mt-harness"


def add_cache_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    cache = sub.add_parser("cache", parents=[common], help="what the translation cache holds")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    info = cache_sub.add_parser("info", parents=[common], help="size and rows per translator")
    info.add_argument("--cache-dir", help=_CACHE_DIR_HELP)
    info.add_argument("--format", choices=("markdown", "json"), default="markdown")
    info.set_defaults(cache_handler=_cmd_info)
    clear = cache_sub.add_parser("clear", parents=[common], help="delete cached translations")
    clear.add_argument("--cache-dir", help=_CACHE_DIR_HELP)
    clear.add_argument("--model", help="only this model (hub id, folder, or its name in a config)")
    clear.add_argument("--older-than", type=float, metavar="DAYS", help="only rows older than this")
    clear.set_defaults(cache_handler=_cmd_clear)


def _cmd_info(args: argparse.Namespace) -> int:
    path = cache_path(args.cache_dir)
    sys.stdout.write(render_info(path, cache_groups(path), args.format))
    return 0


def _cmd_clear(args: argparse.Namespace) -> int:
    path = cache_path(args.cache_dir)
    deleted = clear_cache(path, args.model, args.older_than)
    sys.stdout.write(f"deleted {deleted} cached translation(s) from {path}\n")
    return 0
