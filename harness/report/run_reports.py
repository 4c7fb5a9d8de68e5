"""What a finished run writes about itself beyond the per-leaf files: report.html, and the
paired significance of every model against the configured baseline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness import store
from harness.config import RunConfig


def write_run_report(run_dir: Path, title: str) -> None:
    """report.html for the leaves a run's summary lists."""
    from harness.report.html import render_html
    from harness.report.tables import build_table

    written = store.find_result_leaves([run_dir])
    page = render_html(build_table(written), written, title=f"{title}: EN→VI evaluation")
    store.write_text_atomic(run_dir / "report.html", page)


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
