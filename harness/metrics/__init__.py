"""Metrics: sacrebleu adapters, sufficient statistics, bootstrap intervals, paired tests.

The one place references are reshaped (:mod:`harness.metrics.sacre`); sacrebleu itself is
imported lazily, inside the functions that score.
"""

from harness.metrics.evaluate import (
    Evaluation,
    NormalizationCounts,
    ScoreRecord,
    evaluate,
    load_stats,
)
from harness.metrics.interval import Interval
from harness.metrics.registry import (
    MetricConfig,
    MetricSpec,
    check_metric_names,
    get_metric,
    metric_names,
    registry,
)
from harness.metrics.sacre import MetricResult

__all__ = [
    "Evaluation",
    "Interval",
    "MetricConfig",
    "MetricResult",
    "MetricSpec",
    "NormalizationCounts",
    "ScoreRecord",
    "check_metric_names",
    "evaluate",
    "get_metric",
    "load_stats",
    "metric_names",
    "registry",
]
