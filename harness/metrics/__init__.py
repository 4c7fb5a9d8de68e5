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
from harness.metrics.sacre import METRIC_NAMES, MetricResult, check_metric_names
from harness.metrics.significance import Interval

__all__ = [
    "METRIC_NAMES",
    "Evaluation",
    "Interval",
    "MetricResult",
    "NormalizationCounts",
    "ScoreRecord",
    "check_metric_names",
    "evaluate",
    "load_stats",
]
