"""``harness compare``: intervals and paired significance across finished runs, from stats.npz.

Comparing never re-tokenizes: each leaf's per-segment sufficient statistics (written by
:func:`harness.metrics.evaluate`) are resampled with numpy. Systems are grouped by dataset name;
within a group every system must have been scored on the same data (equal fingerprints and
segment counts), with the same metric signatures, or the comparison is refused, naming what
differs (the same rules as ``harness table``, :mod:`harness.report.scored_as`). With
``allow_mismatch`` the versions of a dataset are compared separately, each within itself, and a
metric scored differently within one version is left out with a note.
"""

from __future__ import annotations

import difflib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import MetricError, RunFolderError
from harness.metrics.evaluate import load_stats
from harness.metrics.registry import check_metric_names, get_metric, metric_names
from harness.metrics.significance import (
    DEFAULT_AR_TRIALS,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    approximate_randomization,
    holm,
    paired_bootstrap_many,
)
from harness.report.scored_as import (
    MismatchError,
    ScoredAs,
    differences,
    mismatch_message,
    variant_labels,
)
from harness.store import ResultLeaf, find_result_leaves

log = logging.getLogger(__name__)

METHODS = ("bootstrap", "ar", "both")
STATS_FILE = "stats.npz"
SEGMENTS_FILE = "segments.jsonl"


@dataclass(frozen=True)
class SystemRun:
    """One finished (model, dataset) leaf, with its statistics loaded."""

    label: str
    leaf: Path
    dataset: str
    fingerprint: str
    scores: dict[str, float]
    signatures: dict[str, str]
    stats: dict[str, np.ndarray]
    segments: int


@dataclass(frozen=True)
class SystemResult:
    """One system on one metric; p-values are None for the baseline or a method not run."""

    score: float
    interval: Interval
    p_bootstrap: float | None = None
    p_bootstrap_holm: float | None = None
    p_ar: float | None = None
    p_ar_holm: float | None = None

    def primary_p(self) -> float | None:
        """The p-value markers use: Holm-adjusted bootstrap if run, else AR."""
        return self.p_bootstrap_holm if self.p_bootstrap_holm is not None else self.p_ar_holm


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    signature: str
    results: dict[str, SystemResult]  # system label -> result, in system order

    @property
    def name(self) -> str:
        return get_metric(self.metric).display_name

    @property
    def higher_is_better(self) -> bool:
        return get_metric(self.metric).higher_is_better

    @property
    def decimals(self) -> int:
        return get_metric(self.metric).decimals


@dataclass(frozen=True)
class DatasetComparison:
    dataset: str
    fingerprint: str
    segments: int
    systems: tuple[str, ...]
    baseline: str
    metrics: tuple[MetricComparison, ...]
    analysis: dict[str, Any] = field(default_factory=dict)  # harness.analysis.dataset_analysis

    @property
    def n_comparisons(self) -> int:
        return len(self.systems) - 1

    @property
    def holm_applied(self) -> bool:
        return self.n_comparisons > 1


@dataclass(frozen=True)
class Comparison:
    """Everything ``harness compare`` prints; see :func:`render_comparison`."""

    datasets: tuple[DatasetComparison, ...]
    method: str
    resamples: int
    ar_trials: int
    seed: int
    skipped: tuple[str, ...] = field(default_factory=tuple)  # why a group was not compared


@dataclass(frozen=True)
class _Settings:
    resamples: int
    seed: int
    method: str
    ar_trials: int

    def as_tuple(self) -> tuple[int, int, str, int]:
        return (self.resamples, self.seed, self.method, self.ar_trials)


def compare_runs(
    run_dirs: Sequence[Path],
    baseline: str | None = None,
    metrics: Sequence[str] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    method: str = "bootstrap",
    *,
    ar_trials: int = DEFAULT_AR_TRIALS,
    allow_mismatch: bool = False,
) -> Comparison:
    """Compare every system found under ``run_dirs`` against ``baseline`` (a system label or
    model name; default: the first system found), dataset by dataset."""
    if method not in METHODS:
        raise MetricError(f"unknown comparison method {method!r}; choose from {', '.join(METHODS)}")
    if resamples < 1:
        raise MetricError(f"resamples must be >= 1, got {resamples}")
    wanted = check_metric_names(metrics) if metrics else None
    groups = _group(_load_systems(find_result_leaves(list(run_dirs))), allow_mismatch)
    datasets, skipped = [], []
    for name, systems in groups.items():
        if len(systems) < 2:
            skipped.append(f"{name}: only {systems[0].label} has results")
            # Said on stderr too: the CSV and JSON tables have no room for a note.
            log.warning("not compared: %s (one system only)", skipped[-1])
            continue
        settings = _Settings(resamples, seed, method, ar_trials)
        metrics = _pick_metrics(systems, wanted)
        metrics, notes = _alike_metrics(name, systems, metrics, allow_mismatch)
        skipped.extend(notes)
        if not metrics:
            continue
        datasets.append(_compare_group(name, systems, baseline, metrics, settings))
    for why in skipped:
        log.warning("harness compare: skipped %s", why)
    if not datasets:
        raise RunFolderError(
            "nothing to compare: " + "; ".join(skipped) + " (give at least two systems)"
        )
    return Comparison(tuple(datasets), method, resamples, ar_trials, seed, tuple(skipped))


def _load_systems(leaves: Sequence[ResultLeaf]) -> list[SystemRun]:
    labels = _labels(leaves)
    return [_load_one(leaf, label) for leaf, label in zip(leaves, labels, strict=True)]


def _labels(leaves: Sequence[ResultLeaf]) -> list[str]:
    """Model names; ``run/model`` where a model name repeats on a dataset; the path if needed."""
    labels = [leaf.model for leaf in leaves]
    for widen in (lambda lf: f"{lf.results.get('run', '?')}/{lf.model}", lambda lf: str(lf.path)):
        seen = Counter((lf.dataset, lab) for lf, lab in zip(leaves, labels, strict=True))
        labels = [
            widen(lf) if seen[(lf.dataset, lab)] > 1 else lab
            for lf, lab in zip(leaves, labels, strict=True)
        ]
    return labels


def _load_one(leaf: ResultLeaf, label: str) -> SystemRun:
    results, where = leaf.results, leaf.path / "results.json"
    try:
        dataset = results["dataset"]
        scores = {m: float(r["score"]) for m, r in results["scores"].items()}
        signatures = {m: str(r["signature"]) for m, r in results["scores"].items()}
        name, fingerprint, n = (
            str(dataset["name"]),
            str(dataset["fingerprint"]),
            dataset["segments"],
        )
    except (KeyError, TypeError, ValueError) as e:
        raise RunFolderError(f"{where}: missing or malformed field {e}") from e
    if not (leaf.path / STATS_FILE).is_file():
        raise RunFolderError(f"{leaf.path}: no {STATS_FILE}; this run cannot be compared")
    stats = load_stats(leaf.path / STATS_FILE)
    n_lines = _count_records(leaf.path / SEGMENTS_FILE)
    for metric, array in stats.items():
        if len(array) != n or n_lines != n:
            raise RunFolderError(
                f"{leaf.path}: results.json says {n} segments, {SEGMENTS_FILE} has {n_lines}, "
                f"{STATS_FILE}[{metric}] has {len(array)}"
            )
        # The vectorized scorer (no sacrebleu import here) agrees with sacrebleu to ~1e-12.
        totals = array.sum(axis=0, keepdims=True)
        recomputed = float(get_metric(metric).scores_from_totals(totals)[0])
        if metric in scores and abs(recomputed - scores[metric]) > 1e-6:
            raise RunFolderError(
                f"{leaf.path}: {STATS_FILE}[{metric}] does not reproduce the "
                f"{metric} score in results.json; the folder was edited"
            )
    return SystemRun(label, leaf.path, name, fingerprint, scores, signatures, stats, n)


def _count_records(path: Path) -> int:
    """Non-blank lines of a JSONL file; the dataset fingerprint already pins their content."""
    try:
        return sum(1 for line in path.read_bytes().split(b"\n") if line.strip())
    except OSError as e:
        raise RunFolderError(f"cannot read {path}: {e}") from e


def _data_of(system: SystemRun) -> ScoredAs:
    return ScoredAs(system.dataset, system.fingerprint, system.segments, "", "")


def _group(systems: Sequence[SystemRun], allow_mismatch: bool) -> dict[str, list[SystemRun]]:
    """Systems by dataset as loaded (fingerprint and segment count). Two versions of one
    dataset name are an error, or with ``allow_mismatch`` two groups labelled by what differs."""
    by_name: dict[str, dict[ScoredAs, list[SystemRun]]] = {}
    for system in systems:
        by_name.setdefault(system.dataset, {}).setdefault(_data_of(system), []).append(system)
    groups: dict[str, list[SystemRun]] = {}
    for name, versions in by_name.items():
        keys = list(versions)
        if len(keys) > 1 and not allow_mismatch:
            a, b = versions[keys[0]][0], versions[keys[1]][0]
            raise MismatchError(
                f"dataset {name!r} differs between runs: {a.leaf} and {b.leaf} "
                f"({'; '.join(differences(keys[0], keys[1]))}); systems scored on different "
                "data cannot be compared\n"
                "compare runs of the same data, or pass --allow-mismatch to compare each "
                "version separately"
            )
        for key, label in zip(keys, variant_labels(keys), strict=True):
            groups[f"{name} {label}" if label else name] = versions[key]
    return groups


def _alike_metrics(
    name: str, systems: Sequence[SystemRun], metrics: list[str], allow_mismatch: bool
) -> tuple[list[str], list[str]]:
    """The metrics every system computed alike (same signature); a metric that differs is an
    error naming the setting, or with ``allow_mismatch`` left out with a note."""
    kept, notes = [], []
    for metric in metrics:
        first = systems[0]
        other = next(
            (s for s in systems[1:] if s.signatures[metric] != first.signatures[metric]), None
        )
        if other is None:
            kept.append(metric)
            continue
        a = ScoredAs(name, first.fingerprint, first.segments, metric, first.signatures[metric])
        b = ScoredAs(name, other.fingerprint, other.segments, metric, other.signatures[metric])
        message = mismatch_message(
            get_metric(metric).title, name, (a, str(first.leaf)), (b, str(other.leaf))
        )
        if not allow_mismatch:
            raise MismatchError(message)
        notes.append(f"{get_metric(metric).title} on {name}: {'; '.join(differences(a, b))}")
    return kept, notes


def _pick_metrics(systems: Sequence[SystemRun], wanted: list[str] | None) -> list[str]:
    if wanted is None:
        common = [m for m in metric_names() if all(m in s.stats and m in s.scores for s in systems)]
        if not common:
            raise RunFolderError("these runs share no metric with statistics to compare")
        return common
    for system in systems:
        missing = [m for m in wanted if m not in system.stats or m not in system.scores]
        if missing:
            raise RunFolderError(f"{system.leaf}: no statistics for {', '.join(missing)}")
    return list(dict.fromkeys(wanted))


def _resolve_baseline(systems: Sequence[SystemRun], baseline: str | None) -> str:
    labels = [s.label for s in systems]
    if baseline is None:
        return labels[0]
    if baseline in labels:
        return baseline
    by_model = [s.label for s in systems if s.label.rsplit("/", 1)[-1] == baseline]
    if len(by_model) == 1:
        return by_model[0]
    hint = difflib.get_close_matches(baseline, labels, n=1)
    extra = f"; did you mean {hint[0]!r}?" if hint else ""
    raise MetricError(f"baseline {baseline!r} is not one of {', '.join(labels)}{extra}")


def _compare_group(
    name: str,
    systems: list[SystemRun],
    baseline: str | None,
    metrics: list[str],
    settings: _Settings,
) -> DatasetComparison:
    resamples, seed, method, ar_trials = settings.as_tuple()
    base = _resolve_baseline(systems, baseline)
    # The baseline goes first, the others keep the order they were given in.
    ordered = sorted(systems, key=lambda s: s.label != base)
    stats = {m: {s.label: s.stats[m] for s in ordered} for m in metrics}
    scores = {m: {s.label: s.scores[m] for s in ordered} for m in metrics}
    paired = paired_bootstrap_many(stats, scores, base, resamples, seed)
    results = []
    for metric in metrics:
        p_bs = {k: r.p_value for k, r in paired[metric].items() if r.p_value is not None}
        if method == "ar":
            p_bs = {}
        p_ar = (
            approximate_randomization(metric, stats[metric], scores[metric], base, ar_trials, seed)
            if method in ("ar", "both")
            else {}
        )
        adj_bs, adj_ar = holm(p_bs), holm(p_ar)
        per_system = {
            label: SystemResult(
                r.score,
                r.interval,
                p_bs.get(label),
                adj_bs.get(label),
                p_ar.get(label),
                adj_ar.get(label),
            )
            for label, r in paired[metric].items()
        }
        results.append(MetricComparison(metric, ordered[0].signatures[metric], per_system))
    from harness.analysis import dataset_analysis

    return DatasetComparison(
        name,
        ordered[0].fingerprint,
        ordered[0].segments,
        tuple(s.label for s in ordered),
        base,
        tuple(results),
        dataset_analysis([(s.label, s.leaf, s.stats) for s in ordered]),
    )


def render_comparison(c: Comparison, fmt: str = "markdown") -> str:
    """The comparison as ``markdown`` (tables + legend), ``csv`` (one row per system and
    metric) or ``json``."""
    from harness.metrics import compare_render

    if fmt == "markdown":
        return compare_render.markdown(c)
    if fmt == "csv":
        return compare_render.csv_text(c)
    if fmt == "json":
        return compare_render.json_text(c)
    raise MetricError(f"unknown comparison format {fmt!r}; choose markdown, csv or json")


def comparison_to_json(c: Comparison) -> dict[str, Any]:
    """A plain-JSON view of ``c`` (what ``render_comparison(c, "json")`` prints)."""
    from harness.metrics import compare_render

    return compare_render.to_json(c)
