"""Progress lines for logs, where no terminal shows a live bar (SLURM, nohup, ``2>log``).

A line goes out every :func:`log_interval` seconds (30 by default) and at each 10% step, but
never more often than a tenth of the interval, so a job that ends within a few seconds logs
only its usual start and end lines. ``HARNESS_PROGRESS_SECONDS`` sets the interval (tests set
it to 0: a line at every update).
"""

from __future__ import annotations

import logging
import math
import os
import time

log = logging.getLogger(__name__)

INTERVAL_ENV = "HARNESS_PROGRESS_SECONDS"
DEFAULT_INTERVAL = 30.0


def log_interval() -> float:
    """Seconds between progress lines: ``$HARNESS_PROGRESS_SECONDS``, else 30."""
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_INTERVAL
    except ValueError:
        return DEFAULT_INTERVAL
    return value if math.isfinite(value) and value >= 0 else DEFAULT_INTERVAL


def format_seconds(seconds: float) -> str:
    """``75`` -> ``1m15s``; ``4000`` -> ``1h06m``."""
    if not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class ProgressLog:
    """Counts work done and logs ``label: done/total unit (pct%, C from the cache), R/s, ETA``.

    ``done`` starts at ``cached`` (work that needs no computing); the rate counts only what
    was computed since the start, so the ETA is not flattered by the cache.
    """

    def __init__(
        self,
        label: str,
        total: int,
        *,
        cached: int | None = None,
        unit: str = "segments",
        rate_unit: str = "seg/s",
        enabled: bool = True,
        logger: logging.Logger = log,
    ) -> None:
        self.label, self.total, self.unit, self.cached = label, total, unit, cached
        self.rate_unit = rate_unit
        self.enabled, self.logger = enabled, logger
        self.interval = log_interval()
        self.done = cached or 0
        self.start = self.last = time.perf_counter()
        self.last_step = self._step()
        self.lines = 0

    def _step(self) -> int:
        return (10 * self.done) // self.total if self.total else 10

    def update(self, n: int) -> None:
        """Record ``n`` more units done; log a line when one is due."""
        self.done += n
        if not self.enabled:
            return
        now = time.perf_counter()
        step = self._step()
        since = now - self.last
        due = since >= self.interval or (step > self.last_step and since >= self.interval / 10)
        if due:
            self.last, self.last_step = now, step
            self.lines += 1
            self.logger.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        now = time.perf_counter() if now is None else now
        computed = self.done - (self.cached or 0)
        elapsed = max(now - self.start, 1e-9)
        rate = computed / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else math.inf
        pct = 100 * self.done // self.total if self.total else 100
        extra = f", {self.cached} from the cache" if self.cached is not None else ""
        left = format_seconds(eta) if self.done < self.total else "0s"
        return (
            f"{self.label}: {self.done}/{self.total} {self.unit} ({pct}%{extra}), "
            f"{rate:.1f} {self.rate_unit}, ETA {left}"
        )
