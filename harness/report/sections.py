"""The report's sections above the segment browser: the comparison table, its notes and
signatures, one chart per metric, p-values against the baseline, validity counts and scores by
source length. Each function returns an HTML fragment; every string from data is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from harness.errors import HarnessError
from harness.metrics.registry import get_metric
from harness.report.browser import DatasetView
from harness.report.charts import Bar, Group, Series, grouped_bars, line_chart
from harness.report.tables import (
    MISMATCH_NOTE,
    SIGNIFICANCE_LEVEL,
    Column,
    Table,
    metric_title,
    row_labels,
    scored_as,
)
from harness.store import ResultLeaf


@dataclass(frozen=True)
class ReportInput:
    """What the sections read: the table, the leaves it was built from and their row labels."""

    table: Table
    leaves: Sequence[ResultLeaf]

    @property
    def labels(self) -> list[str]:
        return row_labels(self.leaves)

    def leaf_for(self, model: str, column: Column) -> ResultLeaf | None:
        """The leaf behind one cell of the table."""
        for leaf, label in zip(self.leaves, self.labels, strict=True):
            if label != model or leaf.dataset != column.dataset:
                continue
            record = leaf.results.get("scores", {}).get(column.metric)
            if record is None:
                continue
            wanted = column.scored_as
            if wanted is None or scored_as(leaf, column.metric, record) == wanted:
                return leaf
        return None


def direction(metric: str) -> str:
    try:
        return get_metric(metric).direction
    except HarnessError:
        return "higher is better"


def column_name(column: Column) -> str:
    return f"{column.dataset} {column.variant}" if column.variant else column.dataset


def display_columns(table: Table) -> list[Column]:
    """Columns grouped by dataset (and variant) for a two-row header, metrics in table order."""
    order = list(dict.fromkeys((c.dataset, c.variant) for c in table.columns))
    return sorted(table.columns, key=lambda c: order.index((c.dataset, c.variant)))


def score_table(table: Table) -> str:
    """Rows: systems; a header row of datasets over a row of metrics."""
    columns = display_columns(table)
    spans: list[tuple[Column, int]] = []
    for column in columns:
        if spans and column_name(spans[-1][0]) == column_name(column):
            spans[-1] = (spans[-1][0], spans[-1][1] + 1)
        else:
            spans.append((column, 1))
    top = "".join(
        f'<th colspan="{n}" class="ds">{escape(column_name(c))}{" ≠" if c.variant else ""}</th>'
        for c, n in spans
    )
    sub = "".join(
        f'<th title="{escape(direction(c.metric))}">{escape(metric_title(c.metric))}'
        f"{' ↓' if direction(c.metric).startswith('lower') else ''}</th>"
        for c in columns
    )
    rows = []
    for model in table.models:
        cells = []
        for column in columns:
            cell = table.cell(model, column)
            css = ' class="sig"' if cell and cell.significant else ""
            cells.append(f"<td{css}>{escape(cell.text()) if cell else '–'}</td>")
        rows.append(f'<tr class="system"><th>{escape(model)}</th>{"".join(cells)}</tr>')
    return (
        '<div class="scroll"><table class="scores" id="scores"><thead>'
        f'<tr><th rowspan="2">system</th>{top}</tr><tr>{sub}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def table_notes(table: Table) -> str:
    """± and * explained, the mismatch warning, and the signatures (one per column group)."""
    items = []
    if any(c.plus_minus is not None for c in table.cells.values()):
        items.append("± is half the width of the 95% bootstrap confidence interval.")
    baselines = sorted({c.baseline for c in table.cells.values() if c.baseline})
    if baselines:
        items.append(
            f"* / bold: differs from the baseline ({', '.join(baselines)}) with p &lt; "
            f"{SIGNIFICANCE_LEVEL} (paired bootstrap, Holm-adjusted). ↓: lower is better."
        )
    if any("(raw" in c.text() for c in table.cells.values()):
        items.append("(raw …) is the score before the optional normalization in the signature.")
    if table.mismatched:
        items.append(escape(MISMATCH_NOTE))
    notes = "".join(f"<li>{item}</li>" for item in items)
    sigs = "".join(
        f"<li>{escape(label)}: <code>{escape(sig)}</code></li>"
        for label, sig in table.signature_lines()
    )
    out = f'<ul class="note">{notes}</ul>'
    if sigs:
        out += f'<h3>Signatures</h3><ul class="note sigs">{sigs}</ul>'
    return out


def metric_charts(table: Table) -> str:
    """One grouped chart per metric: a cluster per dataset, a bar per system."""
    figures = []
    for metric in dict.fromkeys(c.metric for c in table.columns):
        groups = []
        for column in (c for c in table.columns if c.metric == metric):
            bars = [
                Bar(i, cell.score, cell.plus_minus, cell.significant)
                for i, model in enumerate(table.models)
                if (cell := table.cell(model, column)) is not None
            ]
            groups.append(Group(column_name(column), bars))
        caption = f"{metric_title(metric)} ({direction(metric)}; whiskers: 95% interval)"
        figures.append(grouped_bars(caption, groups, table.models))
    return f'<div class="charts">{"".join(figures)}</div>'


def significance_table(report: ReportInput) -> str:
    """Holm-adjusted p-values of every system against the baseline, per dataset × metric."""
    table = report.table
    columns = display_columns(table)
    found: dict[tuple[str, int], Mapping[str, Any]] = {}
    meta: Mapping[str, Any] = {}
    for model in table.models:
        for ci, column in enumerate(columns):
            leaf = report.leaf_for(model, column)
            sig = leaf.results.get("significance") if leaf else None
            if isinstance(sig, Mapping):
                meta = meta or sig
                found[(model, ci)] = sig
    if not found:
        return (
            '<p class="note">No paired significance tests in these results (name a baseline: '
            "<code>harness run --baseline MODEL</code>, or <code>harness compare</code>).</p>"
        )
    head = "".join(
        f"<th>{escape(column_name(c))} {escape(metric_title(c.metric))}</th>" for c in columns
    )
    rows = []
    for model in table.models:
        cells = [_p_cell(found.get((model, ci)), c.metric) for ci, c in enumerate(columns)]
        rows.append(f"<tr><th>{escape(model)}</th>{''.join(cells)}</tr>")
    note = (
        f"{escape(str(meta.get('methods', 'paired tests')))}; "
        f"{escape(str(meta.get('bootstrap_resamples', '?')))} bootstrap resamples, "
        f"{escape(str(meta.get('ar_trials', '?')))} AR trials, seed "
        f"{escape(str(meta.get('seed', '?')))}; {escape(str(meta.get('correction', '')))}. "
        "Each cell: p (paired bootstrap) / p (approximate randomization), Holm-adjusted."
    )
    return (
        f'<div class="scroll"><table class="pvalues"><thead><tr><th>system</th>{head}</tr>'
        f'</thead><tbody>{"".join(rows)}</tbody></table></div><p class="note">{note}</p>'
    )


def _p_cell(sig: Mapping[str, Any] | None, metric: str) -> str:
    if sig is None:
        return "<td>–</td>"
    if sig.get("is_baseline"):
        return '<td class="base">baseline</td>'
    tests = sig.get("metrics", {}).get(metric, {})
    boot, ar = tests.get("p_bootstrap_holm"), tests.get("p_ar_holm")
    text = " / ".join("–" if p is None else f"{float(p):.4f}" for p in (boot, ar))
    significant = boot is not None and float(boot) < SIGNIFICANCE_LEVEL
    return f"<td{' class=sig' if significant else ''}>{escape(text)}</td>"


def validity_table(report: ReportInput, view: DatasetView) -> str:
    """Per system, how many segments each validity flag marks; a count filters the browser."""
    rows_in = []
    for leaf, label in zip(report.leaves, report.labels, strict=True):
        validity = leaf.results.get("validity")
        fingerprint = str(leaf.results.get("dataset", {}).get("fingerprint", ""))
        if leaf.dataset != view.name or fingerprint != view.fingerprint:
            continue
        if isinstance(validity, Mapping) and isinstance(validity.get("counts"), Mapping):
            rows_in.append((label, validity))
    if not rows_in:
        return ""
    flags = list(dict.fromkeys(f for _, v in rows_in for f in v["counts"]))
    head = "".join(f"<th>{escape(f.replace('_', ' '))}</th>" for f in flags)
    rows = []
    for label, validity in rows_in:
        system = view.systems.index(label) if label in view.systems else -1
        cells = []
        for flag in flags:
            n = int(validity["counts"].get(flag, 0) or 0)
            attrs = f' data-view="{view.key}" data-system="{system}" data-flag="{escape(flag)}"'
            cells.append(
                f'<td class="flagcount"{attrs}><button type="button">{n}</button></td>'
                if n and system >= 0
                else f'<td class="zero">{n}</td>'
            )
        flagged = validity.get("flagged_segments")
        total = validity.get("total_segments")
        share = f"{flagged} of {total}" if flagged is not None and total else "–"
        rows.append(f"<tr><th>{escape(label)}</th>{''.join(cells)}<td>{escape(share)}</td></tr>")
    return (
        '<div class="scroll"><table class="validity"><thead><tr><th>system</th>'
        f"{head}<th>flagged</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def bucket_chart(report: ReportInput, view: DatasetView) -> str:
    """Scores by source length (results.json ``analysis.length_buckets``), one line a system."""
    series_in = []
    for leaf, label in zip(report.leaves, report.labels, strict=True):
        fingerprint = str(leaf.results.get("dataset", {}).get("fingerprint", ""))
        if leaf.dataset != view.name or fingerprint != view.fingerprint:
            continue
        buckets = leaf.results.get("analysis", {}).get("length_buckets", {}).get("buckets")
        if isinstance(buckets, list) and buckets and label in report.table.models:
            series_in.append((report.table.models.index(label), buckets))
    if not series_in:
        return ""
    first = series_in[0][1]
    metrics = list(dict.fromkeys(m for b in first for m in b.get("scores", {})))
    if not metrics:
        return ""
    metric = "chrf" if "chrf" in metrics else metrics[0]
    labels = [f"{b.get('bucket', '?')} ({b.get('segments', 0)})" for b in first]
    series = [
        Series(i, [b.get("scores", {}).get(metric) if b.get("segments") else None for b in bks])
        for i, bks in series_in
        if len(bks) == len(first)
    ]
    caption = f"{metric_title(metric)} by source length in words (segments per bucket in brackets)"
    return line_chart(caption, labels, series, report.table.models)
