"""One (model, dataset) leaf of a run, translated and checked: its scores, results.json and
files, written to a temporary folder and renamed so a leaf is complete or absent."""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import store
from harness.config import ResolvedConfig, slug
from harness.leaf_scores import LeafInputs, LeafScores, score_leaf
from harness.metrics.stats_cache import StatsCache
from harness.provenance import environment
from harness.segments import LoadedDataset
from harness.textnorm import normalize_boundary_all
from harness.validity.leaf import CheckedOutputs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeafResult:
    """One finished (model, dataset) evaluation and where it was written."""

    model: str
    dataset: str
    path: Path
    scores: dict[str, float]


def evaluate_leaf(
    resolved: ResolvedConfig,
    leaf: Any,  # runner._TranslatedLeaf
    metrics: Sequence[Any],
    precomputed: dict[str, Any],
    shards: dict[str, Any] | None = None,
    stats_cache: StatsCache | None = None,
) -> LeafResult:
    config = resolved.config
    session, data_name, data = leaf.session, leaf.name, leaf.data
    translation, checked, started = leaf.translation, leaf.checked, leaf.started
    postprocess = getattr(session.config, "postprocess", None)
    model_name = session.label
    leaf_dir = resolved.run_dir / slug(model_name) / slug(data_name)
    label = f"{data_name} with {model_name}"
    scoring_started = time.perf_counter()
    inputs = LeafInputs(
        data.segments,
        checked.hypotheses,  # model output (post-processed if configured), not yet normalized
        metrics,
        config.normalize.spec(),
        config.statistics.bootstrap_resamples,
        config.statistics.seed,
        data.fingerprint,
    )
    scored = score_leaf(
        inputs,
        str(leaf_dir.resolve()),
        stats_cache=stats_cache,
        cache_dir=resolved.cache_dir,
        precomputed=precomputed,
        # Lines where no bar shows; the INFO level keeps them out of -q runs.
        progress_label=None if session.options.progress else f"scoring {label}",
    )
    scoring_seconds = time.perf_counter() - scoring_started
    # The files hold the text that was scored (NFC, plain spaces), not the raw bytes.
    hypotheses, _ = normalize_boundary_all(checked.hypotheses)
    results = {
        "schema_version": store.SCHEMA_VERSION,
        "run": config.name,
        "model": {
            # Name and config last: provenance remembered from the cache may come from a run
            # that called the same model something else.
            **leaf.provenance,
            "name": model_name,
            "config": session.config.model_dump(mode="json"),
            "identity": session.identity.to_json(),
            "identity_key": session.key,
        },
        "dataset": {
            "name": data_name,
            "fingerprint": data.fingerprint,
            "segments": len(data.segments),
            "load_report": data.report.to_json(),
            "provenance": dict(data.provenance),
        },
        "normalization": scored.normalization,
        # Segment ids by flag ("truncated", "refusal", ...), from translators that flag.
        "segment_flags": _flagged_ids(data, translation.flags),
        "scores": scored.scores,
        "validity": checked.report.to_json(),
        "analysis": scored.analysis,
        "timing": {
            **_timing(translation, shards),
            "scoring_seconds": round(scoring_seconds, 3),
            "wall_seconds": round(time.perf_counter() - started, 3),
            "finished_at": _utc_now(),
        },
        "environment": environment(),
    }
    if postprocess is not None and postprocess.active:
        results["model"]["postprocess"] = {
            **postprocess.model_dump(mode="json"),
            "changed_segments": checked.postprocessed,
        }
    # Written to a hidden folder, then renamed: a full disk leaves no half-written leaf.
    what = f"the results of {model_name} on {data_name}"
    with store.writing(what, leaf_dir), store.atomic_dir(leaf_dir) as tmp:
        _write_leaf(tmp, data, hypotheses, scored, checked)
        store.write_atomic(tmp / "stats.npz", lambda handle: handle.write(scored.stats_npz))
        store.write_json_atomic(tmp / store.RESULTS_FILE, results)
    if checked.report.summary():
        log.warning("%s on %s: %s", model_name, data_name, checked.report.summary())
    headline = scored.headline
    log.info(
        "%s on %s: %s",
        model_name,
        data_name,
        ", ".join(f"{k} {v:.2f}" for k, v in headline.items()),
    )
    return LeafResult(model_name, data_name, leaf_dir, headline)


def _flagged_ids(data: LoadedDataset, flags: Sequence[tuple[str, ...]]) -> dict[str, list[str]]:
    """Segment ids by the flags their translator reported."""
    out: dict[str, list[str]] = {}
    for segment, seg_flags in zip(data.segments, flags or [()] * len(data.segments), strict=True):
        for flag in seg_flags:
            out.setdefault(flag, []).append(segment.id)
    return out


def _utc_now() -> str:
    """``2026-12-02T04:14:38+00:00``: when a leaf was written, for reports."""
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _write_leaf(
    leaf_dir: Path,
    data: LoadedDataset,
    hypotheses: Sequence[str],
    scored: LeafScores,
    checked: CheckedOutputs,
) -> None:
    store.write_lines_atomic(leaf_dir / "hypotheses.txt", hypotheses)
    numbers = scored.segment_numbers  # chrF, model-based metrics' scores and extras
    rows = (
        {**seg.to_json(), "hypothesis": hyp, **seg_numbers, **checked.segment_fields(i, hyp)}
        for i, (seg, hyp, seg_numbers) in enumerate(
            zip(data.segments, hypotheses, numbers, strict=True)
        )
    )
    store.write_jsonl_atomic(leaf_dir / "segments.jsonl", rows)


def _timing(translation: Any, shards: dict[str, Any] | None) -> dict[str, Any]:
    """Translation counts and speed; in a multi-process run, what every process did (their
    work reached this process through the cache, so it is not counted as cached). The
    processes translate all datasets of a model together: their seconds are the model's."""
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mib = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    translated, cached, seconds = translation.translated, translation.cached, translation.seconds
    produced = translated  # what `seconds` of translation produced
    if shards:
        # Segments uncached before the processes started; rank 0 may still have translated a
        # few itself just now (translation.translated), which were among them.
        translated = max(shards["uncached_segments"], translated)
        cached = translation.cached + translation.translated - translated
        ranks = shards["ranks"]
        seconds = max([seconds, *(r["seconds"] for r in ranks)])  # the processes ran at once
        produced = sum(r["translated"] for r in ranks) + translation.translated
    timing: dict[str, Any] = {
        "translated_segments": translated,
        "cached_segments": cached,
        "translate_seconds": round(seconds, 3),
        "segments_per_second": round(produced / seconds, 3) if seconds else None,
        "peak_rss_mib": round(peak_mib, 1),  # this process only
    }
    if shards:
        timing["processes"] = {
            "world_size": len(shards["ranks"]),
            "ranks": shards["ranks"],  # each process's work on this model, all its datasets
        }
    return timing
