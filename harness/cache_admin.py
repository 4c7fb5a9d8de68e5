"""``harness cache info`` and ``harness cache clear``: what the caches of a cache folder hold.

Translations are grouped by translator identity (see :mod:`harness.translators.identity`), so
``info`` says which model, with which settings, produced how many cached translations and
when. Per-segment metric statistics (``metric-stats.sqlite``, see
:mod:`harness.metrics.stats_cache`) are grouped by metric identity, with the signature that
tells two identities of one metric apart. ``clear`` deletes translations, or with
``--metric-stats`` statistics: those are cheap to compute again, translations may not be.
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
STATS_FILE = "metric-stats.sqlite"


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


_TRANSLATIONS = ("translations", "translation cache")
_STATS = ("metrics", "metric statistics cache")


def _connect(path: Path, kind: tuple[str, str] = _TRANSLATIONS) -> sqlite3.Connection:
    """An open cache file; ``kind`` is (a table it must have, what to call it in errors)."""
    table, what = kind
    if not path.is_file():
        raise HarnessError(f"no {what} at {path}")
    try:
        db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    except sqlite3.DatabaseError as e:
        raise HarnessError(f"{what} {path} is unusable ({e}); delete it") from e
    return db


def _select(path: Path, kind: tuple[str, str], sql: str) -> list[tuple[Any, ...]]:
    db = _connect(path, kind)
    try:
        return db.execute(sql).fetchall()
    except sqlite3.DatabaseError as e:
        raise HarnessError(f"{kind[1]} {path} is unusable ({e}); delete it") from e
    finally:
        db.close()


def cache_groups(path: Path) -> list[CacheGroup]:
    rows = _select(
        path,
        _TRANSLATIONS,
        "SELECT t.translator_key, COUNT(*), MIN(t.created), MAX(t.created), "
        "i.identity, i.model, i.labels FROM translations t "
        "LEFT JOIN identities i ON i.translator_key = t.translator_key "
        "GROUP BY t.translator_key ORDER BY MAX(t.created) DESC",
    )
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
    size = _file_bytes(path)
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
    orphans = (
        "DELETE FROM identities WHERE translator_key NOT IN "
        "(SELECT DISTINCT translator_key FROM translations)"
    )
    return _delete(
        path, _TRANSLATIONS, [(f"DELETE FROM translations{clause}", params), (orphans, [])]
    )


def _delete(path: Path, kind: tuple[str, str], statements: list[tuple[str, list[Any]]]) -> int:
    """Run the statements in one transaction, then VACUUM; the rows the first one deleted."""
    db = _connect(path, kind)
    try:
        db.execute("BEGIN IMMEDIATE")
        counts = [db.execute(sql, params).rowcount for sql, params in statements]
        db.execute("COMMIT")
        db.execute("VACUUM")
    except sqlite3.DatabaseError as e:
        raise HarnessError(f"could not clear {path}: {e}") from e
    finally:
        db.close()
    return int(counts[0])


@dataclass(frozen=True)
class StatsGroup:
    """The cached per-segment statistics of one metric identity."""

    key: str
    name: str
    signature: str
    rows: int
    created: float


def stats_groups(path: Path) -> list[StatsGroup]:
    rows = _select(
        path,
        _STATS,
        "SELECT m.metric_key, m.name, m.signature, m.created, "
        "(SELECT COUNT(*) FROM segment_stats s WHERE s.metric_key = m.metric_key) "
        "FROM metrics m ORDER BY m.name, m.created",
    )
    return [StatsGroup(str(k), str(n), str(sig), int(c), float(t)) for k, n, sig, t, c in rows]


def clear_stats(path: Path, metric: str | None) -> int:
    """Delete cached metric statistics: of one metric (by name) or all. Returns rows deleted."""
    groups = stats_groups(path)
    keys = [g.key for g in groups if metric is None or g.name == metric]
    if metric is not None and not keys:
        raise HarnessError(f"no cached statistics of a metric called {metric!r} in {path}")
    from harness.metrics.stats_cache import StatsCache

    StatsCache(path).close()  # a file from before a table existed gets it (leaf_scores below)
    marks = ",".join("?" * len(keys))
    return _delete(
        path,
        _STATS,
        [
            (f"DELETE FROM segment_stats WHERE metric_key IN ({marks})", keys),
            (f"DELETE FROM metrics WHERE metric_key IN ({marks})", keys),
            # A leaf's remembered numbers hold every metric's: they go with any of them.
            ("DELETE FROM leaf_scores", []),
        ],
    )


def _file_bytes(path: Path) -> int:
    """A SQLite file's size with its -wal and -shm companions."""
    return path.stat().st_size + sum(
        p.stat().st_size for p in path.parent.glob(path.name + "-*") if p.is_file()
    )


def _cell(text: str) -> str:
    """Text for a markdown table cell: a ``|`` (every sacrebleu signature has them) would end
    the cell, even inside backticks."""
    return text.replace("|", "\\|")


def render_stats_info(path: Path, groups: list[StatsGroup]) -> str:
    total = sum(g.rows for g in groups)
    lines = [
        f"{path}: {_file_bytes(path) / 1e6:.1f} MB, {total} segment statistics rows "
        f"from {len(groups)} metric identit{'y' if len(groups) == 1 else 'ies'}",
    ]
    if groups:
        lines += [
            "",
            "| key | metric | signature | rows | first stored |",
            "|---|---|---|---:|---|",
        ]
        for g in groups:
            lines.append(
                f"| {g.key[:12]} | {g.name} | `{_cell(g.signature)}` | {g.rows} | "
                f"{_when(g.created)} |"
            )
    return "\n".join(lines) + "\n"


_CACHE_DIR_HELP = "default: the config's cache_dir, $HARNESS_CACHE_DIR or ~/.cache/envi-mt-harness"


def add_cache_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    cache = sub.add_parser("cache", parents=[common], help="what the caches hold")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    info = cache_sub.add_parser(
        "info", parents=[common], help="size and rows per translator and metric"
    )
    info.add_argument("--cache-dir", help=_CACHE_DIR_HELP)
    info.add_argument("--format", choices=("markdown", "json"), default="markdown")
    info.set_defaults(cache_handler=_cmd_info)
    clear = cache_sub.add_parser("clear", parents=[common], help="delete cached translations")
    clear.add_argument("--cache-dir", help=_CACHE_DIR_HELP)
    clear.add_argument("--model", help="only this model (hub id, folder, or its name in a config)")
    clear.add_argument("--older-than", type=float, metavar="DAYS", help="only rows older than this")
    clear.add_argument(
        "--metric-stats",
        action="store_true",
        help="delete cached per-segment metric statistics instead of translations",
    )
    clear.add_argument("--metric", help="with --metric-stats: only this metric (bleu, comet, ...)")
    clear.set_defaults(cache_handler=_cmd_clear)


def _cmd_info(args: argparse.Namespace) -> int:
    path = cache_path(args.cache_dir)
    stats = path.parent / STATS_FILE
    if not path.is_file() and not stats.is_file():
        raise HarnessError(f"no translation cache at {path} (nor metric statistics at {stats})")
    groups = cache_groups(path) if path.is_file() else []
    metric_groups = stats_groups(stats) if stats.is_file() else []
    if args.format == "json":
        payload = json.loads(render_info(path, groups, "json")) if path.is_file() else {}
        if stats.is_file():
            payload["metric_stats"] = {
                "path": str(stats),
                "bytes": _file_bytes(stats),
                "metrics": [g.__dict__ for g in metric_groups],
            }
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return 0
    blocks = []
    if path.is_file():
        blocks.append(render_info(path, groups, "markdown"))
    if stats.is_file():
        blocks.append(render_stats_info(stats, metric_groups))
    sys.stdout.write("\n".join(blocks))
    return 0


def _cmd_clear(args: argparse.Namespace) -> int:
    path = cache_path(args.cache_dir)
    if args.metric is not None and not args.metric_stats:
        raise HarnessError("--metric goes with --metric-stats (statistics are kept per metric)")
    if args.metric_stats:
        if args.model is not None or args.older_than is not None:
            raise HarnessError(
                "--metric-stats clears by --metric only: statistics rows are keyed by the "
                "text they score, not by model, and have no date of their own (a metric's "
                "'first stored' is when its first row was)"
            )
        stats = path.parent / STATS_FILE
        deleted = clear_stats(stats, args.metric)
        sys.stdout.write(f"deleted {deleted} cached statistics row(s) from {stats}\n")
        return 0
    deleted = clear_cache(path, args.model, args.older_than)
    sys.stdout.write(f"deleted {deleted} cached translation(s) from {path}\n")
    return 0
