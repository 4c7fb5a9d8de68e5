"""The report's provenance: when and with what the results were made, what each model and
dataset was, the load warnings, and timings. Laid out to wrap (no table wider than the page at
1,400 px): long ids and paths break anywhere, digests are shortened with the full value in a
tooltip."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from harness.store import RESULTS_FILE, ResultLeaf

_UNPAIRED_SHOWN = 5


def _short(value: Any, keep: int = 12) -> str:
    """A digest shortened to ``keep`` hex digits (``sha256:`` prefix kept), full in a tooltip."""
    text = "" if value is None else str(value)
    prefix, _, digest = text.rpartition(":")
    if len(digest) > keep and all(c in "0123456789abcdef" for c in digest):
        shown = f"{prefix}:{digest[:keep]}" if prefix else digest[:keep]
        return f'<span title="{escape(text)}">{escape(shown)}…</span>'
    return escape(text)


def finished_at(leaf: ResultLeaf) -> str:
    """When the leaf was written: ``timing.finished_at`` if recorded, else its file's time."""
    recorded = leaf.results.get("timing", {}).get("finished_at")
    if recorded:
        return str(recorded)
    try:
        mtime = (leaf.path / RESULTS_FILE).stat().st_mtime
    except OSError:
        return "unknown"
    stamp = dt.datetime.fromtimestamp(mtime, tz=dt.timezone.utc)
    return stamp.isoformat(timespec="seconds") + " (file time)"


def run_facts(leaves: Sequence[ResultLeaf]) -> str:
    """Run names, dates, harness version and commit, Python and package versions."""
    runs = list(dict.fromkeys(str(leaf.results.get("run", "")) for leaf in leaves))
    dates = sorted(finished_at(leaf) for leaf in leaves)
    envs = [leaf.results.get("environment", {}) for leaf in leaves]
    versions = list(
        dict.fromkeys(
            f"{e.get('harness_version', '?')}"
            + (f" ({str(e.get('harness_commit'))[:12]})" if e.get("harness_commit") else "")
            for e in envs
        )
    )
    pythons = list(dict.fromkeys(str(e.get("python", "?")) for e in envs))
    packages: dict[str, list[str]] = {}
    for env in envs:
        for name, version in (env.get("packages") or {}).items():
            packages.setdefault(name, [])
            if str(version) not in packages[name]:
                packages[name].append(str(version))
    when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} – {dates[-1]}"
    facts = [
        ("runs", ", ".join(runs)),
        ("finished", when),
        ("harness", "; ".join(versions)),
        ("Python", "; ".join(pythons)),
        ("packages", ", ".join(f"{n} {' / '.join(v)}" for n, v in packages.items())),
    ]
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts if v)
    mixed = [n for n, v in packages.items() if len(v) > 1]
    warn = (
        f'<p class="warn">These results come from different package versions: '
        f"{escape(', '.join(mixed))}.</p>"
        if mixed
        else ""
    )
    return f'<dl class="facts">{items}</dl>{warn}'


def _unique_datasets(leaves: Sequence[ResultLeaf]) -> list[Mapping[str, Any]]:
    seen: dict[tuple[str, str], Mapping[str, Any]] = {}
    for leaf in leaves:
        data = leaf.results.get("dataset", {})
        seen.setdefault((leaf.dataset, str(data.get("fingerprint", ""))), data)
    return list(seen.values())


def load_warnings(leaves: Sequence[ResultLeaf]) -> str:
    """Every dataset's load-report notes and unpaired lines, as a list (empty when none)."""
    items = []
    for data in _unique_datasets(leaves):
        report = data.get("load_report") or {}
        name = escape(str(data.get("name", "?")))
        for note in report.get("notes") or []:
            items.append(f"<li><b>{name}</b>: {escape(str(note))}</li>")
        unpaired = report.get("unpaired") or []
        if unpaired:
            lines = "".join(
                f"<li>line {escape(str(u.get('line', '?')))}: {escape(str(u.get('reason', '')))}"
                "</li>"
                for u in unpaired[:_UNPAIRED_SHOWN]
                if isinstance(u, Mapping)
            )
            more = len(unpaired) - _UNPAIRED_SHOWN
            tail = f"<li>… and {more} more (results.json → dataset.load_report)</li>"
            items.append(
                f"<li><b>{name}</b>: {len(unpaired)} lines could not be paired"
                f"<ul>{lines}{tail if more > 0 else ''}</ul></li>"
            )
    if not items:
        return ""
    return f'<h3>Load warnings</h3><ul class="warnings">{"".join(items)}</ul>'


def _table(css: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Cells are HTML already (escaped by the caller)."""
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="prov {css}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def models_table(leaves: Sequence[ResultLeaf], labels: Sequence[str]) -> str:
    rows, seen = [], set()
    for leaf, label in zip(leaves, labels, strict=True):
        if label in seen:
            continue
        seen.add(label)
        model = leaf.results.get("model", {})
        preset = model.get("preset")
        generation = model.get("generation") or {}
        decoding = ", ".join(
            f"{k} {generation[k]}" for k in ("num_beams", "max_new_tokens") if k in generation
        )
        rows.append(
            [
                escape(label),
                escape(str(model.get("model", ""))),
                _short(model.get("revision")),
                escape(str(model.get("backend", ""))),
                escape(str(preset.get("name", "")) if isinstance(preset, Mapping) else ""),
                escape(f"{model.get('device', '')} {model.get('dtype', '')}".strip()),
                escape(f"{model['parameters']:,}" if model.get("parameters") else ""),
                escape(decoding),
            ]
        )
    head = ("system", "model", "revision", "backend", "preset", "device", "parameters", "decoding")
    return _table("models", head, rows)


def datasets_table(leaves: Sequence[ResultLeaf]) -> str:
    rows = []
    for data in _unique_datasets(leaves):
        report = data.get("load_report") or {}
        repairs = ", ".join(f"{k} {v}" for k, v in (report.get("repairs") or {}).items() if v)
        prov = data.get("provenance") or {}
        origin = prov.get("benchmark_origin") or prov.get("kind") or ""
        rows.append(
            [
                escape(str(data.get("name", ""))),
                escape(str(data.get("segments", ""))),
                _short(data.get("fingerprint")),
                escape(str(origin)),
                escape(f"{report.get('records_in', '?')} → {report.get('segments_out', '?')}"),
                escape(repairs or "none"),
            ]
        )
    head = ("dataset", "segments", "fingerprint", "origin", "records → segments", "repairs")
    return _table("datasets", head, rows)


def timing_table(leaves: Sequence[ResultLeaf], labels: Sequence[str]) -> str:
    rows = []
    for leaf, label in zip(leaves, labels, strict=True):
        timing = leaf.results.get("timing", {})
        rows.append(
            [
                escape(label),
                escape(leaf.dataset),
                escape(str(timing.get("translated_segments", ""))),
                escape(str(timing.get("cached_segments", ""))),
                escape(str(timing.get("translate_seconds", ""))),
                escape(str(timing.get("segments_per_second", ""))),
                escape(str(timing.get("peak_rss_mib", ""))),
                escape(finished_at(leaf)),
            ]
        )
    head = (
        "system",
        "dataset",
        "translated",
        "cached",
        "seconds",
        "segments/s",
        "peak MiB",
        "finished",
    )
    return _table("timing", head, rows)
