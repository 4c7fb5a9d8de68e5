"""The segment browser's data: every system's output on one dataset, segment by segment.

The page embeds this as JSON in a ``<script type="application/json">`` block (see
:func:`json_script`) and the browser script renders one page of it at a time, so a dataset of
20,000 segments costs one ``JSON.parse`` and a few dozen DOM nodes, not 20,000 table rows.

The layout is column-major to keep the file small: one list of sources, one of references, and
per system one list of outputs; flags and raw outputs are sparse (most segments have none).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.store import ResultLeaf

SEGMENTS_FILE = "segments.jsonl"
# Fields of a segments.jsonl row that are not per-segment scores.
_TEXT_FIELDS = frozenset({"id", "source", "references", "hypothesis", "raw_hypothesis", "flags"})


@dataclass
class DatasetView:
    """One dataset as scored (one fingerprint) with the systems that translated it."""

    key: str  # element id suffix in the page
    name: str
    fingerprint: str
    ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    references: list[list[str]] = field(default_factory=list)
    systems: list[str] = field(default_factory=list)
    outputs: list[list[str]] = field(default_factory=list)  # [system][segment]
    raw: list[dict[str, str]] = field(default_factory=list)  # [system] {segment index: raw text}
    scores: dict[str, list[list[float | None]]] = field(default_factory=dict)  # [metric][system]
    flags: list[list[list[Any]]] = field(default_factory=list)  # [system] [[index, [flag...]]]
    notes: list[str] = field(default_factory=list)  # systems left out, and why
    color_index: list[int] = field(default_factory=list)  # [system] colour in the charts

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "fingerprint": self.fingerprint,
            "ids": self.ids,
            "src": self.sources,
            "refs": self.references,
            "systems": self.systems,
            "hyp": self.outputs,
            "raw": self.raw,
            "scores": self.scores,
            "flags": self.flags,
            "notes": self.notes,
            "colorIndex": self.color_index,
        }


def read_segments(leaf: Path) -> list[dict[str, Any]]:
    """The rows of a leaf's segments.jsonl; raises OSError / ValueError naming the line."""
    path = leaf / SEGMENTS_FILE
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                raise ValueError(f"{path}:{number}: {e}") from e
            if not isinstance(row, dict) or "id" not in row or "hypothesis" not in row:
                raise ValueError(f"{path}:{number}: not a segment record (id, hypothesis)")
            rows.append(row)
    return rows


def dataset_views(leaves: Sequence[ResultLeaf], labels: Sequence[str]) -> list[DatasetView]:
    """One view per (dataset name, fingerprint), systems in the order given; ``labels`` are the
    table's row labels of ``leaves``. A leaf whose segments cannot be read, or whose segment
    ids differ from the first system's, is left out with a note (the report still opens)."""
    views: dict[tuple[str, str], DatasetView] = {}
    for leaf, label in zip(leaves, labels, strict=True):
        data = leaf.results.get("dataset", {})
        fingerprint = str(data.get("fingerprint", ""))
        view = views.get((leaf.dataset, fingerprint))
        if view is None:
            view = DatasetView(f"d{len(views)}", leaf.dataset, fingerprint)
            views[(leaf.dataset, fingerprint)] = view
        _add_system(view, leaf, label)
    return [v for v in views.values() if v.systems or v.notes]


def _add_system(view: DatasetView, leaf: ResultLeaf, label: str) -> None:
    try:
        rows = read_segments(leaf.path)
    except (OSError, ValueError) as e:
        view.notes.append(f"{label}: segments not shown ({e})")
        return
    ids = [str(row["id"]) for row in rows]
    if not view.systems:
        view.ids = ids
        view.sources = [str(row.get("source", "")) for row in rows]
        view.references = [[str(r) for r in row.get("references", [])] for row in rows]
    elif ids != view.ids:
        view.notes.append(
            f"{label}: segments not shown (its {len(ids)} segment ids differ from "
            f"{view.systems[0]}'s {len(view.ids)})"
        )
        return
    s = len(view.systems)
    view.systems.append(label)
    view.outputs.append([str(row["hypothesis"]) for row in rows])
    view.raw.append(
        {
            str(i): str(row["raw_hypothesis"])
            for i, row in enumerate(rows)
            if row.get("raw_hypothesis") is not None
        }
    )
    view.flags.append(
        [[i, [str(f) for f in row["flags"]]] for i, row in enumerate(rows) if row.get("flags")]
    )
    for metric in _score_fields(rows):
        per_system = view.scores.setdefault(metric, [[] for _ in range(s)])
        per_system.append([_number(row.get(metric)) for row in rows])
    for per_system in view.scores.values():  # a metric this system lacks: None throughout
        while len(per_system) < s + 1:
            per_system.append([None] * len(rows))


def _score_fields(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Per-segment score fields: numeric fields other than the text ones, in first-seen order."""
    names: dict[str, None] = {}
    for row in rows[:50]:  # every row has the same fields; a few suffice
        for key, value in row.items():
            if key not in _TEXT_FIELDS and _number(value) is not None:
                names[key] = None
    return list(names)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def json_script(element_id: str, payload: Any) -> str:
    """``payload`` as JSON in a ``<script type="application/json">`` block that no string in
    it can break out of: ``<``, ``>`` and ``&`` are written as JSON ``\\u`` escapes, so the
    text holds no ``</script>`` or ``<!--``; ``JSON.parse`` gives the exact strings back."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    # U+2028/2029 are valid in JSON and in script text since ES2019; escaped for older parsers.
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f'<script type="application/json" id="{element_id}">{text}</script>'
