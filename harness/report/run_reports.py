"""What a finished run writes about itself beyond the per-leaf files: report.html, and the
paired significance of every model against the configured baseline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


def attach_significance(
    run_dir: Path, config: RunConfig, leaf_dirs: Sequence[Path], cache_dir: Path | None = None
) -> None:
    """Paired tests of every model against the baseline, per dataset, from the stored
    statistics; p-values go into each leaf's results.json and the table into comparison.md.

    With ``cache_dir``, both are remembered in its statistics cache under a hash of what
    decides them (:func:`_significance_key`): a rerun on the same statistics draws no
    resamples and imports no numpy."""
    leaves = store.find_result_leaves(list(leaf_dirs))
    memo = None
    if cache_dir is not None:
        from harness.metrics.stats_cache import StatsCache

        memo = StatsCache.in_dir(cache_dir)
    try:
        key = _significance_key(config, leaves) if memo is not None else b""
        stored = memo.recall(key) if memo is not None else None
        if not (isinstance(stored, dict) and _fits(stored, len(leaves))):
            stored = _significance(config, leaves)
            if memo is not None:
                memo.remember(key, stored)
    finally:
        if memo is not None:
            memo.close()
    store.write_text_atomic(run_dir / "comparison.md", stored["markdown"])
    for index, block in stored["blocks"]:
        path = leaves[index].path / store.RESULTS_FILE
        results = store.read_results(path)
        results["significance"] = block
        store.write_json_atomic(path, results)


def _significance(config: RunConfig, leaves: Sequence[store.ResultLeaf]) -> dict[str, Any]:
    """comparison.md's text and each compared leaf's ``significance`` block (by its index in
    ``leaves``), as JSON values."""
    from harness.compare import compare_runs, render_comparison

    stats_cfg = config.statistics
    comparison = compare_runs(
        [leaf.path for leaf in leaves],
        baseline=stats_cfg.baseline,
        metrics=config.metric_names,
        resamples=stats_cfg.bootstrap_resamples or 1000,
        seed=stats_cfg.seed,
        method="both",
    )
    index_of = {(leaf.model, leaf.dataset): i for i, leaf in enumerate(leaves)}
    blocks = []
    for group in comparison.datasets:
        for system in group.systems:
            block = {
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
            blocks.append([index_of[(system, group.dataset)], block])
    value = {"markdown": render_comparison(comparison, "markdown"), "blocks": blocks}
    # What a rerun reads back from the cache: the same values, the same files.
    return json.loads(json.dumps(value, allow_nan=True))


def _fits(stored: dict[str, Any], n_leaves: int) -> bool:
    blocks = stored.get("blocks")
    return (
        isinstance(stored.get("markdown"), str)
        and isinstance(blocks, list)
        and all(isinstance(b, list) and len(b) == 2 and 0 <= b[0] < n_leaves for b in blocks)
    )


def _significance_key(config: RunConfig, leaves: Sequence[store.ResultLeaf]) -> bytes:
    """What decides the paired tests: the settings, each leaf's names, fingerprint, scores and
    stats.npz bytes (in order: labels and groups come from them), the numpy and harness
    versions and the source of the code that tests and renders."""
    from harness import __version__
    from harness.metrics.interval import DEFAULT_AR_TRIALS
    from harness.metrics.stats_cache import remembered_key
    from harness.versions import code_digest, installed_version

    stats_cfg = config.statistics
    settings = {
        "baseline": stats_cfg.baseline,
        "metrics": list(config.metric_names),
        "resamples": stats_cfg.bootstrap_resamples or 1000,
        "seed": stats_cfg.seed,
        "ar_trials": DEFAULT_AR_TRIALS,
        "method": "both",
    }
    versions = {
        "harness": __version__,
        "numpy": installed_version("numpy"),
        "code": code_digest("compare.py", "metrics/**/*.py", "report/run_reports.py"),
    }
    parts = [
        [
            leaf.results.get("run"),
            leaf.model,
            leaf.dataset,
            leaf.results.get("dataset", {}).get("fingerprint"),
            leaf.results.get("scores"),
        ]
        for leaf in leaves
    ]
    blobs = [(leaf.path / "stats.npz").read_bytes() for leaf in leaves]
    return remembered_key("significance", [settings, versions, parts], blobs)
