"""Retry policy, client-side rate limit, request statistics and progress for the API backend.

The ``openai`` client can retry by itself (3.57: on 408/409/429/>=500 and timeouts, backoff from
0.5 s doubling to 8 s with up to 25% jitter, ``Retry-After`` honoured up to 2 minutes). We turn
that off (``max_retries=0``) and retry here with the same policy, for two reasons: retries are
counted per reason for the results, and every attempt, retries included, goes through the
rate limiter (the client's own retries would bypass it).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 409, 429})  # and every status >= 500
AUTH_STATUSES = frozenset({401, 403})
INITIAL_DELAY_S = 0.5
MAX_DELAY_S = 8.0
MAX_RETRY_AFTER_S = 120.0  # a server asking for a longer wait is out of quota, not busy
_LOG_EVERY_S = 30.0


class MalformedResponse(Exception):
    """A 2xx answer that is not a chat completion (bad JSON, no choices, no message)."""


@dataclass(frozen=True)
class Failure:
    """What went wrong with one attempt: ``reason`` is ``"http 429"``, ``"timeout"``, ...

    ``status`` is the HTTP status (None without one); ``retry_after`` the server's wait in s.
    """

    reason: str
    status: int | None
    retryable: bool
    detail: str = ""
    retry_after: float | None = None

    @property
    def auth(self) -> bool:
        return self.status in AUTH_STATUSES


def classify(error: BaseException) -> Failure | None:
    """The :class:`Failure` an exception from the client stands for; None if it is not an
    API failure at all (a bug, which must propagate as it is)."""
    import openai

    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        retryable = status in RETRY_STATUSES or status >= 500
        after = retry_after_s(error.response.headers)
        if after is not None and after > MAX_RETRY_AFTER_S:
            retryable = False
        return Failure(f"http {status}", status, retryable, _short(error.message), after)
    if isinstance(error, openai.APITimeoutError):
        return Failure("timeout", None, True, "no answer within timeout_s")
    if isinstance(error, openai.APIConnectionError):
        cause = error.__cause__ or error
        return Failure("connection", None, True, _short(f"{type(cause).__name__}: {cause}"))
    malformed = MalformedResponse | json.JSONDecodeError | openai.APIResponseValidationError
    if isinstance(error, malformed):
        return Failure("malformed response", None, True, _short(str(error)))
    return None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The wait a server asks for, in seconds: ``retry-after-ms``, ``retry-after`` as seconds,
    or ``retry-after`` as an HTTP date; None when absent or unreadable."""
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    value = headers.get("retry-after")
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return None


def backoff_s(retry: int, failure: Failure) -> float:
    """Wait before retry number ``retry`` (0-based): the server's Retry-After when it gave one,
    else 0.5 s doubling up to 8 s, minus up to 25% jitter so that clients spread out."""
    if failure.retry_after is not None:
        return failure.retry_after
    delay = min(INITIAL_DELAY_S * 2.0**retry, MAX_DELAY_S)
    return delay * (1 - 0.25 * random.random())


class RateLimiter:
    """At most ``per_minute`` request starts per minute, evenly spaced (no bursts)."""

    def __init__(self, per_minute: float | None) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.next_start = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self.lock:
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) by linear interpolation, as numpy's default does."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass
class RequestStats:
    """Counts for one ``translate`` call; latencies are seconds per answered request."""

    requests: int = 0  # HTTP attempts, retries included
    answered: int = 0
    retries: Counter[str] = field(default_factory=Counter)  # reason -> count
    input_tokens: int = 0
    output_tokens: int = 0
    latencies: list[float] = field(default_factory=list)
    model_ids: Counter[str] = field(default_factory=Counter)  # as the server reported them
    fingerprints: Counter[str] = field(default_factory=Counter)  # system_fingerprint values
    seconds: float = 0.0

    def to_json(self, prices: Any = None) -> dict[str, Any]:
        cost = None
        if prices is not None:
            cost = round(
                (self.input_tokens * prices.input + self.output_tokens * prices.output) / 1e6, 6
            )
        p50, p95 = percentile(self.latencies, 0.5), percentile(self.latencies, 0.95)
        return {
            "segments": self.answered,
            "requests": self.requests,
            "retries": sum(self.retries.values()),
            "retries_by_reason": dict(sorted(self.retries.items())),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost": cost,
            "seconds": round(self.seconds, 4),
            "requests_per_s": round(self.answered / self.seconds, 3) if self.seconds else None,
            "latency_p50_s": None if p50 is None else round(p50, 4),
            "latency_p95_s": None if p95 is None else round(p95, 4),
        }


class RequestProgress:
    """Requests done, in flight, retries and ETA: a tqdm bar when ``enabled`` and on a
    terminal, else an INFO log line every 30 s (an API run of hours, logged to a file, still
    says where it is; ``-q`` silences INFO)."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.total, self.label = total, label
        self.done = self.in_flight = self.retries = 0
        self.start = self.last_log = time.perf_counter()
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=label, unit="req", file=sys.stderr, leave=False)
        self.log_lines = self.bar is None

    def started(self) -> None:
        self.in_flight += 1

    def ended(self, answered: bool, retried: bool = False) -> None:
        self.in_flight -= 1
        self.done += answered
        self.retries += retried
        now = time.perf_counter()
        if self.bar is not None:
            self.bar.update(int(answered))
            self.bar.set_postfix(in_flight=self.in_flight, retries=self.retries, refresh=False)
        elif self.log_lines and (now - self.last_log >= _LOG_EVERY_S or self.done == self.total):
            self.last_log = now
            rate = self.done / max(now - self.start, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            log.info(
                "%s: %d/%d requests done, %d in flight, %d retries, ETA %.0f s",
                self.label,
                self.done,
                self.total,
                self.in_flight,
                self.retries,
                eta,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
