"""Benchmark tables: rows are models, columns are dataset × metric.

Reads finished results (``results.json``) only, so ``harness table`` never imports torch.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError
from harness.store import ResultLeaf

FORMATS = ("markdown", "csv", "json", "latex", "html")
SIGNIFICANCE_LEVEL = 0.05
METRIC_TITLES = {"bleu": "BLEU", "chrf": "chrF", "chrf++": "chrF++", "ter": "TER"}


@dataclass(frozen=True)
class Cell:
    score: float
    plus_minus: float | None = None
    signature: str | None = None
    p_value: float | None = None  # paired test against the baseline (Holm-adjusted)
    baseline: str | None = None  # set when the run compared systems against a baseline
    raw_score: float | None = None  # before optional normalization (tone marks, quotes)

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < SIGNIFICANCE_LEVEL

    def text(self, digits: int = 1) -> str:
        text = f"{self.score:.{digits}f}"
        if self.plus_minus is not None:
            text += f" ± {self.plus_minus:.{digits}f}"
        text += "*" if self.significant else ""
        if self.raw_score is not None:
            text += f" (raw {self.raw_score:.{digits}f})"
        return text


@dataclass
class Table:
    """A models × (dataset, metric) grid; missing cells are None."""

    models: list[str] = field(default_factory=list)
    columns: list[tuple[str, str]] = field(default_factory=list)
    cells: dict[tuple[str, str, str], Cell] = field(default_factory=dict)
    # metric -> signature -> datasets scored with it (several when settings differ by column)
    signatures: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def signature_lines(self) -> list[tuple[str, str]]:
        """(label, signature) per distinct signature: ``BLEU`` or ``BLEU (ds1, ds2)``."""
        out = []
        for metric, by_signature in self.signatures.items():
            title = METRIC_TITLES.get(metric, metric)
            for signature, datasets in by_signature.items():
                label = title if len(by_signature) == 1 else f"{title} ({', '.join(datasets)})"
                out.append((label, signature))
        return out

    def get(self, model: str, dataset: str, metric: str) -> Cell | None:
        return self.cells.get((model, dataset, metric))


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
    )


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


def build_table(leaves: Sequence[ResultLeaf], metrics: Sequence[str] | None = None) -> Table:
    """Collect results into a table; the same result twice (one folder given twice) is an error."""
    table = Table()
    for leaf, model in zip(leaves, row_labels(leaves), strict=True):
        dataset = leaf.dataset
        if model not in table.models:
            table.models.append(model)
        for metric, record in leaf.results.get("scores", {}).items():
            if metrics and metric not in metrics:
                continue
            if (dataset, metric) not in table.columns:
                table.columns.append((dataset, metric))
            key = (model, dataset, metric)
            if key in table.cells:
                raise HarnessError(
                    f"{model} on {dataset} appears twice (second copy in {leaf.path}); "
                    f"pass each run folder once"
                )
            table.cells[key] = _cell(record, leaf.results.get("significance"), metric)
            if record.get("signature"):
                datasets = table.signatures.setdefault(metric, {}).setdefault(
                    record["signature"], []
                )
                if dataset not in datasets:
                    datasets.append(dataset)
    return table


def _header(dataset: str, metric: str) -> str:
    return f"{dataset} {METRIC_TITLES.get(metric, metric)}"


def render_table(table: Table, fmt: str = "markdown", digits: int = 1) -> str:
    if fmt == "markdown":
        return _markdown(table, digits)
    if fmt == "csv":
        return _csv(table)
    if fmt == "json":
        return _json(table)
    if fmt == "latex":
        return _latex(table, digits)
    raise HarnessError(f"unknown table format {fmt!r}; choose from {', '.join(FORMATS)}")


def _markdown(table: Table, digits: int) -> str:
    header = ["model", *(_header(d, m) for d, m in table.columns)]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(table.columns)) + "|",
    ]
    for model in table.models:
        row = [model]
        for dataset, metric in table.columns:
            cell = table.get(model, dataset, metric)
            row.append(cell.text(digits) if cell else "–")
        lines.append("| " + " | ".join(row) + " |")
    if table.signatures:
        lines.append("")
        lines.extend(f"- {label}: `{sig}`" for label, sig in table.signature_lines())
    if any(c.plus_minus is not None for c in table.cells.values()):
        lines.append("- ± is half the width of the 95% bootstrap confidence interval.")
    if any(c.raw_score is not None for c in table.cells.values()):
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
    writer.writerow(["model", "dataset", "metric", "score", "plus_minus", "p_value", "signature"])
    for model in table.models:
        for dataset, metric in table.columns:
            cell = table.get(model, dataset, metric)
            if cell is not None:
                writer.writerow(
                    [
                        model,
                        dataset,
                        metric,
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
            "dataset": dataset,
            "metric": metric,
            "score": cell.score,
            "plus_minus": cell.plus_minus,
            "p_value": cell.p_value,
            "baseline": cell.baseline,
            "signature": cell.signature,
        }
        for model in table.models
        for dataset, metric in table.columns
        if (cell := table.get(model, dataset, metric)) is not None
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


def _latex(table: Table, digits: int) -> str:
    spec = "l" + "r" * len(table.columns)
    header = " & ".join(["Model", *(_latex_escape(_header(d, m)) for d, m in table.columns)])
    lines = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule", header + " \\\\", "\\midrule"]
    for model in table.models:
        cells = []
        for dataset, metric in table.columns:
            cell = table.get(model, dataset, metric)
            cells.append(cell.text(digits).replace("±", "$\\pm$") if cell else "--")
        lines.append(" & ".join([_latex_escape(model), *cells]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"
