"""Statistics extraction on every core: a process pool over chunks of segments.

sacrebleu is pure Python (TER's shift search most of all), so one process uses one core. A
segment's statistics row depends on that segment alone, so the corpus is cut into chunks, each
chunk is extracted by whichever worker is free, and the rows are put back in input order: the
result is the same array, byte for byte, as one process makes (tested), whatever the number of
workers or the chunk size.

Only ``kind == "string"`` metrics go to the pool: a neural metric loads a model, which is
better done once in this process. Small inputs stay in this process too, where starting the
workers would cost more than it saves.

The worker count is :func:`set_workers` (the CLI's ``--workers``), else ``HARNESS_WORKERS``
(``1`` turns the pool off), else the CPUs this process may use.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.errors import ConfigError, MetricError
from harness.metrics.registry import Extracted, MetricConfig, MetricInputs, get_metric

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    import numpy as np

log = logging.getLogger(__name__)

WORKERS_VARIABLE = "HARNESS_WORKERS"
# Below this many segment x metric extractions, one process is faster than starting a pool
# (measured: forking two workers and sending them the text costs about 0.1 s; one process
# extracts about 2,000 segment-metrics in that time on short sentences).
MIN_PARALLEL_WORK = 2_000
# Segments per task: small enough to balance the workers and bound each one's memory, large
# enough that sending a task costs little next to extracting it.
MAX_CHUNK = 500
MIN_CHUNK = 25

_workers_override: int | None = None


def set_workers(n: int | None) -> None:
    """Use ``n`` worker processes from now on (None: back to the default)."""
    global _workers_override
    if n is not None and n < 1:
        raise ConfigError(f"workers must be at least 1, got {n}")
    _workers_override = n


def worker_count() -> int:
    """How many processes extraction may use."""
    if _workers_override is not None:
        return _workers_override
    text = os.environ.get(WORKERS_VARIABLE, "").strip()
    if text:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise ConfigError(f"{WORKERS_VARIABLE}={text!r}: expected a whole number >= 1")
        return value
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Job:
    """One metric to extract over some segments."""

    config: MetricConfig
    inputs: MetricInputs


@dataclass(frozen=True)
class _Task:
    job: int
    config: MetricConfig
    inputs: MetricInputs


def extract_jobs(jobs: Sequence[Job], workers: int | None = None) -> list[Extracted]:
    """Extract every job, string metrics spread over ``workers`` processes; results in order.

    Each result holds the ``(n_segments, n_columns)`` statistics of its job (dtype as the
    metric makes it) and the metric's signature.
    """
    workers = worker_count() if workers is None else workers
    poolable = [i for i, job in enumerate(jobs) if get_metric(job.config.name).kind == "string"]
    work = sum(len(jobs[i].inputs.hypotheses) for i in poolable)
    results: dict[int, Extracted] = {}
    if workers > 1 and work >= MIN_PARALLEL_WORK:
        results.update(_in_pool([(i, jobs[i]) for i in poolable], workers, work))
    for i, job in enumerate(jobs):
        if i not in results:
            results[i] = _extract(job.config, job.inputs)
    return [results[i] for i in range(len(jobs))]


def _extract(config: MetricConfig, inputs: MetricInputs) -> Extracted:
    extracted = get_metric(config.name).extract(config, inputs)
    n = len(inputs.hypotheses)
    if extracted.stats.shape[0] != n:
        raise MetricError(f"{config.name}: {extracted.stats.shape[0]} statistics rows for {n}")
    return extracted


def _run_task(task: _Task) -> tuple[int, np.ndarray, str]:
    """In a worker: one chunk of one job."""
    extracted = _extract(task.config, task.inputs)
    return task.job, extracted.stats, extracted.signature


def _chunks(index: int, job: Job, size: int) -> list[_Task]:
    inputs, n = job.inputs, len(job.inputs.hypotheses)
    out = []
    for start in range(0, n, size):
        end = min(start + size, n)
        part = MetricInputs(
            list(inputs.hypotheses[start:end]),
            None if inputs.references is None else list(inputs.references[start:end]),
            None if inputs.sources is None else list(inputs.sources[start:end]),
        )
        out.append(_Task(index, job.config, part))
    return out


def _in_pool(jobs: Sequence[tuple[int, Job]], workers: int, work: int) -> dict[int, Extracted]:
    # About sixteen tasks per worker, so that the slow chunks (TER's) do not leave the other
    # workers idle at the end.
    size = max(MIN_CHUNK, min(MAX_CHUNK, -(-work // (16 * workers))))
    tasks = [task for index, job in jobs for task in _chunks(index, job, size)]
    # Longest metric first would balance better, but order of submission does not change any
    # result: map() yields in task order and each chunk goes back to its place below.
    parts: dict[int, list[np.ndarray]] = {index: [] for index, _ in jobs}
    signatures: dict[int, str] = {}
    from concurrent.futures import ProcessPoolExecutor  # here: a cached rerun starts no pool

    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=_context()) as pool:
        for index, stats, signature in pool.map(_run_task, tasks):
            parts[index].append(stats)
            signatures.setdefault(index, signature)
    log.debug("extracted %d tasks in %d processes", len(tasks), workers)
    import numpy as np  # the workers' statistics were made with it anyway

    out = {}
    for index, job in jobs:
        spec = get_metric(job.config.name)
        # A chunk's signature may differ from the corpus's (sacrebleu's nrefs counts the
        # references of the chunk): the spec says the corpus's where it can.
        signature = (
            signatures[index] if spec.signature is None else spec.signature(job.config, job.inputs)
        )
        out[index] = Extracted(np.concatenate(parts[index], axis=0), signature)
    return out


def _context() -> BaseContext:
    """``fork`` (workers start in milliseconds) unless this process runs threads of its own
    that a forked child could inherit mid-lock (torch's and CTranslate2's thread pools); then
    ``forkserver``, whose server is a fresh, single-threaded process."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    heavy = any(name in sys.modules for name in ("torch", "ctranslate2"))
    if "fork" in methods and not heavy:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["harness.metrics.parallel", "harness.metrics.string_metrics"])
        return ctx
    return multiprocessing.get_context("spawn")
