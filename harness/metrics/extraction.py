"""Statistics of many metrics at once: from the statistics cache where it has them, the rest
extracted (string metrics on every core, :mod:`harness.metrics.parallel`) and then cached.

This is the one road from text to statistics for ``evaluate`` and ``harness score``; it knows
metrics only through the registry (a spec's ``extract`` and ``identity``), so a new metric,
neural ones included, is cached and parallelized (when it is a string metric) without a line
here. A metric whose spec has no ``identity`` is never cached: nothing would say when its
numbers change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import MetricError
from harness.metrics.parallel import Job, extract_jobs
from harness.metrics.registry import Extracted, MetricConfig, MetricInputs, get_metric
from harness.metrics.stats_cache import (
    FORMAT,
    MetricEntry,
    StatsCache,
    item_key,
    metric_key,
    remembered_key,
)


@dataclass(frozen=True)
class Request:
    """One metric on one text: ``text_tag`` names the normalization that made the text."""

    config: MetricConfig
    inputs: MetricInputs
    text_tag: str


@dataclass
class _Plan:
    """A request's cache lookup: which rows are known, which segments still need extracting."""

    request: Request
    key: str | None = None
    identity: Mapping[str, Any] | None = None
    entry: MetricEntry | None = None
    items: list[bytes] | None = None
    found: dict[bytes, bytes] | None = None
    todo: list[int] | None = None  # positions to extract (one per distinct missing item)


def extract_all(
    requests: Sequence[Request], cache: StatsCache | None = None, workers: int | None = None
) -> list[Extracted]:
    """Statistics and signature of every request, in order (see the module docstring)."""
    hashed: dict[tuple[int, bool], list[bytes]] = {}
    plans = [_plan(r, cache, hashed) for r in requests]
    jobs, owners = [], []
    for index, plan in enumerate(plans):
        if plan.todo is None:  # not cached at all: every segment
            jobs.append(Job(plan.request.config, plan.request.inputs))
            owners.append(index)
        elif plan.todo:
            jobs.append(Job(plan.request.config, _subset(plan.request.inputs, plan.todo)))
            owners.append(index)
    fresh = dict(zip(owners, extract_jobs(jobs, workers), strict=True))
    out = []
    for index, plan in enumerate(plans):
        result = _assemble(plan, fresh.get(index), cache)
        if result is None:  # cached rows no longer decode as this metric makes them
            assert cache is not None and plan.key is not None
            cache.forget(plan.key)
            result = extract_jobs([Job(plan.request.config, plan.request.inputs)], workers)[0]
        out.append(result)
    return out


def _plan(request: Request, cache: StatsCache | None, hashed: dict) -> _Plan:
    spec = get_metric(request.config.name)
    plan = _Plan(request)
    if cache is None or spec.identity is None:
        return plan
    plan.identity = {
        "metric": spec.name,
        "columns": list(spec.columns),
        "format": FORMAT,
        "config": request.config.model_dump(mode="json"),
        "identity": dict(spec.identity(request.config)),
        "text": request.text_tag,
    }
    plan.key = metric_key(plan.identity)
    # Hash each text once for all the metrics that read the same parts of it.
    inputs = request.inputs
    memo_key = (id(inputs), spec.uses_source)
    if memo_key not in hashed:
        hashed[memo_key] = _item_keys(inputs, spec.uses_source)
    plan.items = hashed[memo_key]
    plan.entry = cache.entry(plan.key)
    plan.found = cache.get_many(plan.key, plan.items) if plan.entry is not None else {}
    first: dict[bytes, int] = {}
    for position, item in enumerate(plan.items):
        if item not in plan.found:
            first.setdefault(item, position)
    plan.todo = list(first.values())
    return plan


def _item_keys(inputs: MetricInputs, uses_source: bool) -> list[bytes]:
    n = len(inputs.hypotheses)
    refs = inputs.references
    sources = inputs.sources if uses_source else None
    if refs is not None and len(refs) != n:
        raise MetricError(f"{n} hypotheses but {len(refs)} reference entries")
    if sources is not None and len(sources) != n:
        raise MetricError(f"{n} hypotheses but {len(sources)} sources")
    return [
        item_key(
            inputs.hypotheses[i],
            None if refs is None else refs[i],
            None if sources is None else sources[i],
        )
        for i in range(n)
    ]


def _subset(inputs: MetricInputs, positions: Sequence[int]) -> MetricInputs:
    refs, sources = inputs.references, inputs.sources
    return MetricInputs(
        [inputs.hypotheses[i] for i in positions],
        None if refs is None else [refs[i] for i in positions],
        None if sources is None else [sources[i] for i in positions],
    )


def _assemble(plan: _Plan, fresh: Extracted | None, cache: StatsCache | None) -> Extracted | None:
    """The request's full statistics array; None when cached rows do not fit fresh ones."""
    if plan.todo is None:
        assert fresh is not None  # every uncached request was extracted above
        return fresh
    assert plan.items is not None and plan.found is not None and plan.key is not None
    entry = plan.entry
    if fresh is not None:
        stats = fresh.stats
        mine = MetricEntry(fresh.signature, stats.dtype.str, int(stats.shape[1]))
        if entry is not None and (entry.dtype, entry.n_columns) != (mine.dtype, mine.n_columns):
            return None
        entry = mine
    assert entry is not None  # no fresh rows means every row was found, so the entry exists
    import numpy as np  # here, not at the top: a rerun whose leaves are remembered needs none

    dtype, width = np.dtype(entry.dtype), entry.n_columns
    rows = dict(plan.found)
    if fresh is not None:
        new = {plan.items[p]: fresh.stats[j].tobytes() for j, p in enumerate(plan.todo)}
        assert cache is not None and plan.identity is not None
        cache.put_many(plan.key, entry, plan.identity, plan.request.config.name, new.items())
        rows.update(new)
    blob = b"".join(rows[item] for item in plan.items)
    stats = np.frombuffer(blob, dtype=dtype).reshape(len(plan.items), width).copy()
    spec = get_metric(plan.request.config.name)
    if spec.signature is None:
        return Extracted(stats, entry.signature)
    # A signature is the metric's (its key) on a corpus (the items, in order): remembered, so
    # a rerun on the same text need not build the metric (for sacrebleu's: import it) again.
    assert cache is not None
    key = remembered_key("signature", [plan.key], [b"".join(plan.items)])
    signature = cache.recall(key)
    if not isinstance(signature, str):
        signature = spec.signature(plan.request.config, plan.request.inputs)
        cache.remember(key, signature)
    return Extracted(stats, signature)
