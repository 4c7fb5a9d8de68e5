"""Text forms of a :class:`harness.compare.Comparison`: markdown with a legend, CSV, JSON."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.compare import Comparison, DatasetComparison, SystemResult

ALPHA = 0.05
BS_MARK = "*"  # paired bootstrap, p < ALPHA (after Holm when it applies)
AR_MARK = "†"  # approximate randomization, same rule


def format_score(score: float, plus_minus: float | None, digits: int = 1) -> str:
    """``37.2 ± 1.1`` (or ``37.2`` without an interval)."""
    if plus_minus is None:
        return f"{score:.{digits}f}"
    return f"{score:.{digits}f} ± {plus_minus:.{digits}f}"


def _p(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _marks(result: SystemResult) -> str:
    marks = ""
    if result.p_bootstrap_holm is not None and result.p_bootstrap_holm < ALPHA:
        marks += BS_MARK
    if result.p_ar_holm is not None and result.p_ar_holm < ALPHA:
        marks += AR_MARK
    return marks


def markdown(c: Comparison) -> str:
    blocks = [_markdown_dataset(c, d) for d in c.datasets]
    notes = [f"- skipped {why}" for why in c.skipped]
    return "\n\n".join(blocks) + ("\n\n" + "\n".join(notes) if notes else "") + "\n"


def _markdown_dataset(c: Comparison, d: DatasetComparison) -> str:
    use_bs, use_ar = c.method in ("bootstrap", "both"), c.method in ("ar", "both")
    header = ["System"]
    for m in d.metrics:
        header.append(m.name + ("" if m.higher_is_better else " (lower is better)"))
        header += ["p (bootstrap)"] if use_bs else []
        header += ["p (AR)"] if use_ar else []
    rows = []
    for label in d.systems:
        row = [f"{label} (baseline)" if label == d.baseline else label]
        for m in d.metrics:
            r = m.results[label]
            cell = format_score(r.score, r.interval.plus_minus, m.decimals)
            row.append(f"{cell} {_marks(r)}".rstrip())
            row += [_p(r.p_bootstrap_holm)] if use_bs else []
            row += [_p(r.p_ar_holm)] if use_ar else []
        rows.append(row)
    lines = [
        f"### {d.dataset} ({d.segments} segments, fingerprint {d.fingerprint[:12]})",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":--"] + ["--:"] * (len(header) - 1)) + "|",
        *("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows),
        "",
        *_legend(c, d, use_bs, use_ar),
    ]
    if d.analysis:
        from harness.analysis import analysis_markdown

        lines += ["", analysis_markdown(d.analysis).rstrip("\n")]
    return "\n".join(lines)


def _legend(c: Comparison, d: DatasetComparison, use_bs: bool, use_ar: bool) -> list[str]:
    holm = (
        f", Holm-adjusted over {d.n_comparisons} comparisons per metric" if d.holm_applied else ""
    )
    out = [
        f"- score ± half-width of the 95% paired-bootstrap interval "
        f"({c.resamples} resamples, seed {c.seed})."
    ]
    if use_bs:
        out.append(
            f"- p (bootstrap): paired bootstrap resampling against {d.baseline} "
            f"({c.resamples} resamples){holm}; {BS_MARK} p < {ALPHA}."
        )
    if use_ar:
        out.append(
            f"- p (AR): paired approximate randomization against {d.baseline} "
            f"({c.ar_trials} trials){holm}; {AR_MARK} p < {ALPHA}."
        )
    out += [f"- {m.name}: {m.signature}" for m in d.metrics]
    return out


_CSV_FIELDS = (
    "dataset",
    "fingerprint",
    "system",
    "baseline",
    "metric",
    "score",
    "plus_minus",
    "ci_low",
    "ci_high",
    "bootstrap_mean",
    "p_bootstrap",
    "p_bootstrap_holm",
    "p_ar",
    "p_ar_holm",
    "significant",
    "signature",
)


def csv_text(c: Comparison) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for d in c.datasets:
        for m in d.metrics:
            for label, r in m.results.items():
                p = r.primary_p()
                writer.writerow(
                    {
                        "dataset": d.dataset,
                        "fingerprint": d.fingerprint,
                        "system": label,
                        "baseline": label == d.baseline,
                        "metric": m.metric,
                        "score": f"{r.score:.4f}",
                        "plus_minus": f"{r.interval.plus_minus:.4f}",
                        "ci_low": f"{r.interval.low:.4f}",
                        "ci_high": f"{r.interval.high:.4f}",
                        "bootstrap_mean": f"{r.interval.mean:.4f}",
                        "p_bootstrap": _p(r.p_bootstrap),
                        "p_bootstrap_holm": _p(r.p_bootstrap_holm),
                        "p_ar": _p(r.p_ar),
                        "p_ar_holm": _p(r.p_ar_holm),
                        "significant": "" if p is None else p < ALPHA,
                        "signature": m.signature,
                    }
                )
    return out.getvalue()


def to_json(c: Comparison) -> dict[str, Any]:
    return {
        "method": c.method,
        "resamples": c.resamples,
        "ar_trials": c.ar_trials,
        "seed": c.seed,
        "alpha": ALPHA,
        "skipped": list(c.skipped),
        "datasets": [_dataset_json(d) for d in c.datasets],
    }


def _dataset_json(d: DatasetComparison) -> dict[str, Any]:
    return {
        "dataset": d.dataset,
        "fingerprint": d.fingerprint,
        "segments": d.segments,
        "systems": list(d.systems),
        "baseline": d.baseline,
        "holm": d.holm_applied,
        "metrics": {
            m.metric: {
                "name": m.name,
                "signature": m.signature,
                "results": {
                    label: {
                        "score": r.score,
                        "plus_minus": r.interval.plus_minus,
                        "ci95": [r.interval.low, r.interval.high],
                        "bootstrap_mean": r.interval.mean,
                        "p_bootstrap": r.p_bootstrap,
                        "p_bootstrap_holm": r.p_bootstrap_holm,
                        "p_ar": r.p_ar,
                        "p_ar_holm": r.p_ar_holm,
                    }
                    for label, r in m.results.items()
                },
            }
            for m in d.metrics
        },
        "analysis": d.analysis,
    }


def json_text(c: Comparison) -> str:
    return json.dumps(to_json(c), ensure_ascii=False, indent=2) + "\n"
