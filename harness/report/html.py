"""A self-contained HTML report: the comparison table, one bar chart per metric, provenance.

No JavaScript and nothing fetched: charts are inline SVG, so the file opens anywhere (and in a
browser with no network) exactly as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from harness.errors import HarnessError
from harness.metrics.registry import get_metric
from harness.report.tables import MISMATCH_NOTE, Column, Table, metric_title
from harness.store import ResultLeaf

_BAR_HEIGHT = 22
_LABEL_WIDTH = 220
_PLOT_WIDTH = 420
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.sig { font-weight: 600; }
code { font-size: 0.85em; background: #f4f4f4; padding: 1px 4px; }
figure { margin: 1rem 0 2rem; }
figcaption { font-weight: 600; margin-bottom: .3rem; }
.note { color: #555; font-size: 0.9em; }
"""


def render_html(table: Table, leaves: Sequence[ResultLeaf], title: str = "EN→VI evaluation") -> str:
    """The whole report as one HTML document."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _html_table(table),
        _legend(table),
        *(_chart(table, column) for column in table.columns),
        _provenance(leaves),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{escape(c.header)}</th>" for c in table.columns)
    rows = []
    for model in table.models:
        cells = []
        for column in table.columns:
            cell = table.cell(model, column)
            css = ' class="sig"' if cell and cell.significant else ""
            cells.append(f"<td{css}>{escape(cell.text()) if cell else '–'}</td>")
        rows.append(f"<tr><td>{escape(model)}</td>{''.join(cells)}</tr>")
    return f"<table><tr><th>model</th>{head}</tr>{''.join(rows)}</table>"


def _legend(table: Table) -> str:
    items = [
        f"<li>{escape(label)}: <code>{escape(sig)}</code></li>"
        for label, sig in table.signature_lines()
    ]
    if any(c.plus_minus is not None for c in table.cells.values()):
        items.append("<li>± is half the width of the 95% bootstrap confidence interval.</li>")
    if any(c.baseline for c in table.cells.values()):
        items.append(
            "<li>* / bold: differs from the baseline with p &lt; 0.05 "
            "(paired bootstrap, Holm-adjusted).</li>"
        )
    if table.mismatched:
        items.append(f"<li>{escape(MISMATCH_NOTE)}</li>")
    return f'<ul class="note">{"".join(items)}</ul>'


def _chart(table: Table, column: Column) -> str:
    """Horizontal bars with 95% interval whiskers; the axis runs 0–100 (TER: lower is better)."""
    rows = [(m, table.cell(m, column)) for m in table.models]
    rows = [(m, c) for m, c in rows if c is not None]
    top = max([100.0] + [c.score + (c.plus_minus or 0) for _, c in rows])
    scale = _PLOT_WIDTH / top
    height = _BAR_HEIGHT * len(rows) + 24
    svg = [
        f'<svg width="{_LABEL_WIDTH + _PLOT_WIDTH + 70}" height="{height}" role="img" '
        f'aria-label="{escape(column.header)}">'
    ]
    for i, (model, cell) in enumerate(rows):
        y = i * _BAR_HEIGHT + 4
        width = max(cell.score, 0) * scale
        svg.append(
            f'<text x="{_LABEL_WIDTH - 6}" y="{y + 14}" text-anchor="end" '
            f'font-size="12">{escape(model)}</text>'
        )
        fill = "#c0504d" if cell.significant else "#4f81bd"
        svg.append(
            f'<rect x="{_LABEL_WIDTH}" y="{y}" width="{width:.1f}" '
            f'height="{_BAR_HEIGHT - 6}" fill="{fill}"/>'
        )
        if cell.plus_minus:
            lo = _LABEL_WIDTH + max(cell.score - cell.plus_minus, 0) * scale
            hi = _LABEL_WIDTH + (cell.score + cell.plus_minus) * scale
            mid = y + (_BAR_HEIGHT - 6) / 2
            svg.append(
                f'<line x1="{lo:.1f}" x2="{hi:.1f}" y1="{mid}" y2="{mid}" '
                'stroke="#222" stroke-width="1.5"/>'
            )
        svg.append(
            f'<text x="{_LABEL_WIDTH + width + 6:.1f}" y="{y + 14}" '
            f'font-size="12">{cell.score:.1f}</text>'
        )
    axis_y = len(rows) * _BAR_HEIGHT + 16
    svg.append(f'<text x="{_LABEL_WIDTH}" y="{axis_y}" font-size="10">0</text>')
    svg.append(
        f'<text x="{_LABEL_WIDTH + _PLOT_WIDTH}" y="{axis_y}" font-size="10" '
        f'text-anchor="end">{top:.0f}</text></svg>'
    )
    better = _direction(column.metric)
    name = f"{column.dataset} {column.variant}" if column.variant else column.dataset
    caption = f"{escape(name)} — {escape(metric_title(column.metric))} ({better})"
    return f"<figure><figcaption>{caption}</figcaption>{''.join(svg)}</figure>"


def _direction(metric: str) -> str:
    try:
        return get_metric(metric).direction
    except HarnessError:
        return "higher is better"


def _provenance(leaves: Sequence[ResultLeaf]) -> str:
    rows = []
    for leaf in leaves:
        model, data = leaf.results.get("model", {}), leaf.results.get("dataset", {})
        timing = leaf.results.get("timing", {})
        cells = [
            leaf.model,
            str(model.get("model", "")),
            str(model.get("revision", "")),
            str(model.get("device", "")),
            leaf.dataset,
            str(data.get("fingerprint", ""))[:12],
            str(data.get("segments", "")),
            str(timing.get("segments_per_second", "")),
        ]
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "model",
            "id",
            "revision",
            "device",
            "dataset",
            "fingerprint",
            "segments",
            "segments/s",
        )
    )
    return f"<h2>Provenance</h2><table><tr>{head}</tr>{''.join(rows)}</table>"
