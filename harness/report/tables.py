"""Benchmark tables: rows are models, columns are one dataset *as scored* × one metric.

Reads finished results (``results.json``) only, so ``harness table`` never imports torch. A
column never mixes numbers computed differently (another data fingerprint or segment count,
another metric signature): such results are refused with a message naming what differs, or,
with ``allow_mismatch``, put in separate columns labelled with the difference and marked.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError
from harness.metrics.registry import get_metric
from harness.report.scored_as import MismatchError, ScoredAs, mismatch_message, variant_labels
from harness.store import ResultLeaf

FORMATS = ("markdown", "csv", "json", "latex", "html")
SIGNIFICANCE_LEVEL = 0.05
MISMATCH_MARK = "≠"  # on the header of a column split off because it was scored differently
MISMATCH_NOTE = (
    f"{MISMATCH_MARK}: shown with --allow-mismatch; these columns share a dataset name but were "
    "scored on other data or with other settings (the label says which): do not compare them"
)


def metric_title(metric: str) -> str:
    """The table header of a metric (its registry title; the name itself if unknown)."""
    try:
        return get_metric(metric).title
    except HarnessError:
        return metric


@dataclass(frozen=True)
class Cell:
    score: float
    plus_minus: float | None = None
    signature: str | None = None
    p_value: float | None = None  # paired test against the baseline (Holm-adjusted)
    baseline: str | None = None  # set when the run compared systems against a baseline
    raw_score: float | None = None  # before optional normalization (tone marks, quotes)
    decimals: int = 1  # the metric's own (registry): BLEU 1, COMET 4, MetricX 2

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < SIGNIFICANCE_LEVEL

    def text(self, digits: int | None = None) -> str:
        digits = self.decimals if digits is None else digits
        text = f"{self.score:.{digits}f}"
        if self.plus_minus is not None:
            text += f" ± {self.plus_minus:.{digits}f}"
        text += "*" if self.significant else ""
        # The raw score only where it reads differently: an equal one says nothing.
        raw = None if self.raw_score is None else f"{self.raw_score:.{digits}f}"
        if raw is not None and raw != f"{self.score:.{digits}f}":
            text += f" (raw {raw})"
        return text


@dataclass(frozen=True)
class Column:
    """One dataset as scored by one metric; ``variant`` labels it when the same dataset name and
    metric come in several versions (``[2 segments]``, ``[textnorm:nfc+tone:hoà]``)."""

    dataset: str
    metric: str
    variant: str = ""
    scored_as: ScoredAs | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dataset, self.metric, self.variant)

    @property
    def header(self) -> str:
        name = f"{self.dataset} {self.variant}" if self.variant else self.dataset
        mark = f" {MISMATCH_MARK}" if self.variant else ""
        return f"{name} {metric_title(self.metric)}{mark}"

    @property
    def signature(self) -> str | None:
        return self.scored_as.signature if self.scored_as else None


@dataclass
class Table:
    """A models × column grid; missing cells are None."""

    models: list[str] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    cells: dict[tuple[str, tuple[str, str, str]], Cell] = field(default_factory=dict)
    mismatched: bool = False  # columns were split because results were scored differently

    def get(self, model: str, dataset: str, metric: str, variant: str = "") -> Cell | None:
        return self.cells.get((model, (dataset, metric, variant)))

    def cell(self, model: str, column: Column) -> Cell | None:
        return self.cells.get((model, column.key))

    def rows_of(self, column: Column) -> list[str]:
        return [m for m in self.models if self.cell(m, column) is not None]

    def signature_lines(self) -> list[tuple[str, str]]:
        """(label, signature) per column group that shares a signature: ``BLEU`` when every
        column and row of a metric shares one, else ``BLEU on ds1 (rows: a, b)``."""
        out = []
        metrics = list(dict.fromkeys(c.metric for c in self.columns))
        for metric in metrics:
            columns = [c for c in self.columns if c.metric == metric and c.signature]
            by_sig: dict[str, list[Column]] = {}
            for column in columns:
                by_sig.setdefault(str(column.signature), []).append(column)
            title = metric_title(metric)
            for signature, group in by_sig.items():
                if len(by_sig) == 1:
                    out.append((title, signature))
                    continue
                names = ", ".join(
                    f"{c.dataset} {c.variant}" if c.variant else c.dataset for c in group
                )
                rows = list(dict.fromkeys(r for c in group for r in self.rows_of(c)))
                out.append((f"{title} on {names} (rows: {', '.join(rows)})", signature))
        return out


def _cell(record: dict[str, Any], significance: dict[str, Any] | None, metric: str) -> Cell:
    plus_minus = record.get("plus_minus")
    ci = record.get("ci95")
    if plus_minus is None and isinstance(ci, (list, tuple)) and len(ci) == 2:
        plus_minus = (float(ci[1]) - float(ci[0])) / 2
    p_value = None
    if significance:
        tests = significance.get("metrics", {}).get(metric, {})
        p_value = tests.get("p_bootstrap_holm", tests.get("p_ar_holm"))
    return Cell(
        score=float(record["score"]),
        plus_minus=None if plus_minus is None else float(plus_minus),
        signature=record.get("signature"),
        p_value=None if p_value is None else float(p_value),
        baseline=significance.get("baseline") if significance else None,
        raw_score=None if record.get("raw_score") is None else float(record["raw_score"]),
        decimals=metric_decimals(metric),
    )


def metric_decimals(metric: str) -> int:
    """Decimals a table shows for a metric (its registry ``decimals``; 1 if unknown)."""
    try:
        return get_metric(metric).decimals
    except HarnessError:
        return 1


def row_labels(leaves: Sequence[ResultLeaf]) -> list[str]:
    """One row label per leaf: the model name, or ``run/model`` where the same model name
    comes from more than one run (two configurations of one model, say)."""
    runs_of: dict[str, set[str]] = {}
    for leaf in leaves:
        runs_of.setdefault(leaf.model, set()).add(str(leaf.results.get("run", "")))
    return [
        f"{leaf.results.get('run', '')}/{leaf.model}"
        if len(runs_of[leaf.model]) > 1
        else leaf.model
        for leaf in leaves
    ]


def scored_as(leaf: ResultLeaf, metric: str, record: dict[str, Any]) -> ScoredAs:
    """How ``leaf`` scored ``metric``: its data (fingerprint, segments) and signature."""
    dataset = leaf.results.get("dataset", {})
    return ScoredAs(
        dataset=leaf.dataset,
        fingerprint=str(dataset.get("fingerprint", "")),
        segments=int(dataset.get("segments", -1)),
        metric=metric,
        signature=str(record.get("signature", "")),
    )


@dataclass
class _Entry:
    model: str
    leaf: ResultLeaf
    metric: str
    record: dict[str, Any]
    scored: ScoredAs


def build_table(
    leaves: Sequence[ResultLeaf],
    metrics: Sequence[str] | None = None,
    *,
    allow_mismatch: bool = False,
) -> Table:
    """Collect results into a table. The same result twice (one folder given twice) is an
    error; so are results of one dataset name and metric computed differently, unless
    ``allow_mismatch`` (then each version gets its own labelled column)."""
    table = Table()
    entries: list[_Entry] = []
    for leaf, model in zip(leaves, row_labels(leaves), strict=True):
        if model not in table.models:
            table.models.append(model)
        for metric, record in leaf.results.get("scores", {}).items():
            if metrics and metric not in metrics:
                continue
            entries.append(_Entry(model, leaf, metric, record, scored_as(leaf, metric, record)))
    groups: dict[tuple[str, str], list[_Entry]] = {}
    for entry in entries:
        groups.setdefault((entry.leaf.dataset, entry.metric), []).append(entry)
    for (dataset, metric), group in groups.items():
        variants = list(dict.fromkeys(e.scored for e in group))
        if len(variants) > 1 and not allow_mismatch:
            first = next(e for e in group if e.scored == variants[0])
            other = next(e for e in group if e.scored == variants[1])
            raise MismatchError(
                mismatch_message(
                    metric_title(metric),
                    dataset,
                    (first.scored, str(first.leaf.path)),
                    (other.scored, str(other.leaf.path)),
                )
            )
        table.mismatched |= len(variants) > 1
        labels = dict(zip(variants, variant_labels(variants), strict=True))
        for variant in variants:
            table.columns.append(Column(dataset, metric, labels[variant], variant))
        for entry in group:
            key = (entry.model, (dataset, metric, labels[entry.scored]))
            if key in table.cells:
                raise HarnessError(
                    f"{entry.model} on {dataset} appears twice (second copy in "
                    f"{entry.leaf.path}); pass each run folder once"
                )
            table.cells[key] = _cell(entry.record, entry.leaf.results.get("significance"), metric)
    return table


def render_table(table: Table, fmt: str = "markdown", digits: int | None = None) -> str:
    """``digits``: decimals for every cell (None: each metric's own)."""
    if fmt == "markdown":
        return _markdown(table, digits)
    if fmt == "csv":
        return _csv(table)
    if fmt == "json":
        return _json(table)
    if fmt == "latex":
        return _latex(table, digits)
    raise HarnessError(f"unknown table format {fmt!r}; choose from {', '.join(FORMATS)}")


def _markdown(table: Table, digits: int | None) -> str:
    header = ["model", *(c.header for c in table.columns)]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(table.columns)) + "|",
    ]
    for model in table.models:
        row = [model]
        for column in table.columns:
            cell = table.cell(model, column)
            row.append(cell.text(digits) if cell else "–")
        lines.append("| " + " | ".join(row) + " |")
    signature_lines = table.signature_lines()
    if signature_lines:
        lines.append("")
        lines.extend(f"- {label}: `{sig}`" for label, sig in signature_lines)
    if table.mismatched:
        lines.append(f"- {MISMATCH_NOTE}")
    if any(c.plus_minus is not None for c in table.cells.values()):
        lines.append("- ± is half the width of the 95% bootstrap confidence interval.")
    if any("(raw" in c.text(digits) for c in table.cells.values()):
        lines.append("- (raw …) is the score before the optional normalization in the signature.")
    baselines = sorted({c.baseline for c in table.cells.values() if c.baseline})
    if baselines:
        lines.append(
            f"- * differs from the baseline ({', '.join(baselines)}) with p < "
            f"{SIGNIFICANCE_LEVEL} (paired bootstrap, Holm-adjusted)."
        )
    return "\n".join(lines) + "\n"


def _csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["model", "dataset", "variant", "metric", "score", "plus_minus", "p_value", "signature"]
    )
    for model in table.models:
        for column in table.columns:
            cell = table.cell(model, column)
            if cell is not None:
                writer.writerow(
                    [
                        model,
                        column.dataset,
                        column.variant,
                        column.metric,
                        f"{cell.score:.4f}",
                        "" if cell.plus_minus is None else f"{cell.plus_minus:.4f}",
                        "" if cell.p_value is None else f"{cell.p_value:.4f}",
                        cell.signature or "",
                    ]
                )
    return buffer.getvalue()


def _json(table: Table) -> str:
    rows = [
        {
            "model": model,
            "dataset": column.dataset,
            "variant": column.variant or None,
            "metric": column.metric,
            "score": cell.score,
            "plus_minus": cell.plus_minus,
            "p_value": cell.p_value,
            "baseline": cell.baseline,
            "signature": cell.signature,
        }
        for model in table.models
        for column in table.columns
        if (cell := table.cell(model, column)) is not None
    ]
    return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"


def _latex_escape(text: str) -> str:
    for char, repl in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("$", r"\$"),
        ("#", r"\#"),
        ("_", r"\_"),
        ("{", r"\{"),
        ("}", r"\}"),
    ):
        text = text.replace(char, repl)
    return text


def _latex(table: Table, digits: int | None) -> str:
    spec = "l" + "r" * len(table.columns)
    header = " & ".join(["Model", *(_latex_escape(c.header) for c in table.columns)])
    lines = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule", header + " \\\\", "\\midrule"]
    for model in table.models:
        cells = []
        for column in table.columns:
            cell = table.cell(model, column)
            cells.append(cell.text(digits).replace("±", "$\\pm$") if cell else "--")
        lines.append(" & ".join([_latex_escape(model), *cells]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    if table.mismatched:
        lines.append(f"% {MISMATCH_NOTE}")
    return "\n".join(lines) + "\n"
