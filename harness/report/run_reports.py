"""What a finished run writes about itself beyond the per-leaf files: report.html, and the
paired significance of every model against the configured baseline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness import store
from harness.config import RunConfig


def write_run_report(run_dir: Path, title: str) -> None:
    """report.html for the leaves a run's summary lists."""
    write_report([run_dir], run_dir / "report.html", f"{title}: EN→VI evaluation")


def write_report(
    runs: Sequence[Path],
    dest: Path,
    title: str,
    *,
    metrics: Sequence[str] | None = None,
    allow_mismatch: bool = False,
) -> Path:
    """The HTML report of the results under ``runs``, written atomically to ``dest``."""
    from harness.errors import RunFolderError
    from harness.report.html import render_html
    from harness.report.tables import build_table

    leaves = store.find_result_leaves(list(runs))
    page = render_html(build_table(leaves, metrics, allow_mismatch=allow_mismatch), leaves, title)
    try:
        return store.write_text_atomic(dest, page)
    except OSError as e:
        raise RunFolderError(f"cannot write the report to {dest}: {e}") from e


def attach_significance(run_dir: Path, config: RunConfig, leaf_dirs: Sequence[Path]) -> None:
    """Paired tests of every model against the baseline, per dataset, from the stored
    statistics; p-values go into each leaf's results.json and the table into comparison.md."""
    from harness.compare import compare_runs, render_comparison

    stats_cfg = config.statistics
    comparison = compare_runs(
        list(leaf_dirs),
        baseline=stats_cfg.baseline,
        metrics=config.metric_names,
        resamples=stats_cfg.bootstrap_resamples or 1000,
        seed=stats_cfg.seed,
        method="both",
    )
    store.write_text_atomic(run_dir / "comparison.md", render_comparison(comparison, "markdown"))
    by_key = {(leaf.model, leaf.dataset): leaf.path for leaf in store.find_result_leaves(leaf_dirs)}
    for group in comparison.datasets:
        for system in group.systems:
            path = by_key[(system, group.dataset)] / store.RESULTS_FILE
            results = store.read_results(path)
            results["significance"] = {
                "baseline": group.baseline,
                "is_baseline": system == group.baseline,
                "methods": "paired bootstrap resampling; approximate randomization",
                "bootstrap_resamples": comparison.resamples,
                "ar_trials": comparison.ar_trials,
                "seed": comparison.seed,
                "correction": f"Holm over {len(group.systems) - 1} comparisons per metric",
                "metrics": {
                    m.metric: {
                        k: getattr(m.results[system], k)
                        for k in ("p_bootstrap", "p_bootstrap_holm", "p_ar", "p_ar_holm")
                    }
                    for m in group.metrics
                },
            }
            store.write_json_atomic(path, results)
