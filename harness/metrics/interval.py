"""A bootstrap interval, and the resampling defaults: what results carry, without numpy.

:mod:`harness.metrics.significance` draws the resamples; this holds what a score remembers of
them, so a rerun whose numbers are all remembered imports no numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_RESAMPLES = 1000
DEFAULT_AR_TRIALS = 10000  # approximate randomization trials of a paired test
DEFAULT_SEED = 12345  # sacrebleu's default SACREBLEU_SEED


@dataclass(frozen=True)
class Interval:
    """A bootstrap estimate: mean of the resampled scores and the 95% interval around it."""

    mean: float
    low: float
    high: float

    @property
    def plus_minus(self) -> float:
        """Half the width of the interval (sacrebleu's "±")."""
        return 0.5 * (self.high - self.low)
