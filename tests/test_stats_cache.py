"""The metric-statistics cache and parallel extraction: cached rows are byte-identical to
fresh ones, only new segments are extracted, what changes a number misses, concurrent runs
share one file, and any number of workers gives the same statistics as one process."""

from __future__ import annotations

import dataclasses
import importlib
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from harness.metrics import evaluate, parallel, significance
from harness.metrics.extraction import Request, extract_all
from harness.metrics.registry import _REGISTRY, MetricInputs, get_metric, metric_config
from harness.metrics.stats import extract_stats
from harness.metrics.stats_cache import StatsCache
from harness.textnorm import NormalizationSpec

FIX = Path(__file__).parent / "fixtures" / "metrics"
HYPS = (FIX / "hyp.vi.txt").read_text(encoding="utf-8").splitlines()
REFS = [[r] for r in (FIX / "ref.vi.txt").read_text(encoding="utf-8").splitlines()]
METRICS = ["bleu", "chrf", "chrf++", "ter"]
# The module, which harness.metrics shadows with its evaluate() function.
evaluate_module = importlib.import_module("harness.metrics.evaluate")


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Records (metric, segments) of every extraction the layer asks for, then runs it."""
    calls: list[tuple[str, int]] = []
    real = parallel.extract_jobs

    def recording(jobs, workers=None):
        calls.extend((j.config.name, len(j.inputs.hypotheses)) for j in jobs)
        return real(jobs, workers)

    monkeypatch.setattr("harness.metrics.extraction.extract_jobs", recording)
    return calls


def requests(hyps, refs, tag: str = "nfc", names=METRICS) -> list[Request]:
    inputs = MetricInputs(hyps, refs)
    return [Request(metric_config(n), inputs, tag) for n in names]


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_cached_rows_are_byte_identical_and_only_new_segments_are_extracted(
    tmp_path: Path, spy: list
) -> None:
    with StatsCache.in_dir(tmp_path) as cache:
        first = extract_all(requests(HYPS[:20], REFS[:20]), cache)
        assert spy == [(n, 20) for n in METRICS]
        spy.clear()
        again = extract_all(requests(HYPS, REFS), cache)  # 20 known, 15 new
        assert spy == [(n, len(HYPS) - 20) for n in METRICS]
        spy.clear()
        hit = extract_all(requests(HYPS, REFS), cache)
        assert spy == []  # all from the cache
    for name, a, b, c in zip(METRICS, first, again, hit, strict=True):
        fresh, signature = extract_stats(name, HYPS, REFS)
        assert_same(b.stats, fresh)
        assert_same(c.stats, fresh)
        assert_same(a.stats, fresh[:20])
        assert b.signature == c.signature == signature
    assert hit[0].stats.dtype == np.int64 and hit[3].stats.dtype == np.float64


def test_normalization_tag_or_metric_identity_change_misses(
    tmp_path: Path, spy: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    with StatsCache.in_dir(tmp_path) as cache:
        extract_all(requests(HYPS, REFS, names=["chrf"]), cache)
        spy.clear()
        extract_all(requests(HYPS, REFS, tag="nfc+tone:hòa", names=["chrf"]), cache)
        assert spy == [("chrf", len(HYPS))]
        spy.clear()
        # Another signature (say, a new sacrebleu version) is another metric identity.
        spec = get_metric("chrf")
        other = dataclasses.replace(spec, identity=lambda config: {"signature": "chrF2|v:next"})
        monkeypatch.setitem(_REGISTRY, "chrf", other)
        extract_all(requests(HYPS, REFS, names=["chrf"]), cache)
        assert spy == [("chrf", len(HYPS))]


def test_signature_follows_the_corpus_not_the_cache(tmp_path: Path) -> None:
    """sacrebleu's nrefs belongs to the corpus: rows cached from a one-reference corpus give a
    two-reference corpus its own signature."""
    two = [[r[0], r[0] + " x"] for r in REFS]
    with StatsCache.in_dir(tmp_path) as cache:
        extract_all(requests(HYPS, REFS, names=["bleu"]), cache)
        mixed = [*REFS[:5], *two[5:]]
        (got,) = extract_all(requests(HYPS, mixed, names=["bleu"]), cache)
    fresh, signature = extract_stats("bleu", HYPS, mixed)
    assert "nrefs:var" in signature and got.signature == signature
    assert_same(got.stats, fresh)


def test_evaluate_with_the_cache_equals_evaluate_without(tmp_path: Path) -> None:
    spec = NormalizationSpec(tone_marks="hòa")
    plain = evaluate(HYPS, REFS, METRICS, spec, bootstrap_resamples=20)
    with StatsCache.in_dir(tmp_path) as cache:
        evaluate(HYPS, REFS, METRICS, spec, bootstrap_resamples=20, stats_cache=cache)
        cached = evaluate(HYPS, REFS, METRICS, spec, bootstrap_resamples=20, stats_cache=cache)
    assert cached.to_json() == plain.to_json()
    assert cached.segment_chrf == plain.segment_chrf
    for name in METRICS:
        assert_same(cached.stats[name], plain.stats[name])
        assert_same(cached.raw_stats[name], plain.raw_stats[name])


def test_bootstrap_intervals_are_remembered_and_keyed_by_what_decides_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws: list[int] = []
    real = significance.bootstrap_scores

    def counting(stats, n_resamples, seed):
        draws.append(seed)
        return real(stats, n_resamples, seed)

    monkeypatch.setattr(significance, "bootstrap_scores", counting)
    spec = NormalizationSpec()
    plain = evaluate(HYPS, REFS, METRICS, spec, bootstrap_resamples=50)
    with StatsCache.in_dir(tmp_path) as cache:
        first = evaluate(HYPS, REFS, METRICS, spec, bootstrap_resamples=50, stats_cache=cache)
        again = evaluate(HYPS, REFS, METRICS, spec, bootstrap_resamples=50, stats_cache=cache)
        assert len(draws) == 2  # the plain run and the first cached one; the rerun drew none
        assert again.to_json() == first.to_json() == plain.to_json()  # floats exact via JSON
        # Another seed, resample count or text is another key: drawn again.
        evaluate(HYPS, REFS, METRICS, spec, bootstrap_resamples=50, seed=7, stats_cache=cache)
        evaluate(HYPS, REFS, METRICS, spec, bootstrap_resamples=60, stats_cache=cache)
        evaluate(HYPS[1:], REFS[1:], METRICS, spec, bootstrap_resamples=50, stats_cache=cache)
        assert len(draws) == 5
    stats = {name: plain.stats[name] for name in METRICS}
    signatures = {name: plain.scores[name].sacrebleu_signature for name in METRICS}
    key = evaluate_module.bootstrap_key(stats, signatures, 50, 1)
    changed = {**stats, "ter": stats["ter"] + 1.0}
    assert evaluate_module.bootstrap_key(changed, signatures, 50, 1) != key
    other_sig = {**signatures, "bleu": signatures["bleu"] + "|x"}
    assert evaluate_module.bootstrap_key(stats, other_sig, 50, 1) != key
    reordered = dict(reversed(list(stats.items())))  # metrics share the draws: order matters
    assert evaluate_module.bootstrap_key(reordered, signatures, 50, 1) != key


def test_a_rerun_on_cached_statistics_builds_no_sacrebleu_metric(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = NormalizationSpec(tone_marks="hòa")  # raw scores and signatures too
    plain = evaluate(HYPS, REFS, METRICS, spec, bootstrap_resamples=20)
    with StatsCache.in_dir(tmp_path) as cache:
        first = evaluate(HYPS, REFS, METRICS, spec, bootstrap_resamples=20, stats_cache=cache)

        def no_sacrebleu(*args, **kwargs):
            raise AssertionError("a sacrebleu metric was built for cached statistics")

        monkeypatch.setattr("harness.metrics.stats.make_metric", no_sacrebleu)
        again = evaluate(HYPS, REFS, METRICS, spec, bootstrap_resamples=20, stats_cache=cache)
        # Another corpus (one segment fewer) has its own signature and scores: computed.
        with pytest.raises(AssertionError, match="sacrebleu metric was built"):
            evaluate(HYPS[1:], REFS[1:], METRICS, spec, bootstrap_resamples=20, stats_cache=cache)
    assert again.to_json() == first.to_json() == plain.to_json()
    assert again.raw_stats.keys() == plain.raw_stats.keys()


def _writer(path: str, start: int, queue) -> None:
    with StatsCache(Path(path)) as cache:
        for _ in range(3):  # write, read back, write again: interleaves with the other process
            out = extract_all(requests(HYPS[start:], REFS[start:]), cache)
    queue.put([e.stats.tobytes() for e in out])


def test_concurrent_writers_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "metric-stats.sqlite"
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(path), s, queue)) for s in (0, 10)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    by_length = {len(r[0]): r for r in results}
    for start in (0, 10):
        want = [extract_stats(n, HYPS[start:], REFS[start:])[0].tobytes() for n in METRICS]
        assert by_length[len(want[0])] == want
    with StatsCache(path) as cache:
        assert cache.count() == len(METRICS) * len(set(zip(HYPS, map(tuple, REFS), strict=True)))


def test_parallel_extraction_equals_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_PARALLEL_WORK", 0)  # the pool even for small input
    monkeypatch.setattr(parallel, "MIN_CHUNK", 4)  # several chunks per metric
    refs = [[r[0], r[0][::-1]] if i % 3 else r for i, r in enumerate(REFS)]  # nrefs:var
    jobs = [parallel.Job(metric_config(n), MetricInputs(HYPS, refs)) for n in METRICS]
    pooled = parallel.extract_jobs(jobs, workers=2)
    single = parallel.extract_jobs(jobs, workers=1)
    for a, b in zip(pooled, single, strict=True):
        assert_same(a.stats, b.stats)
        assert a.signature == b.signature and "nrefs:var" in a.signature


def test_worker_count_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.errors import ConfigError

    monkeypatch.setenv("HARNESS_WORKERS", "3")
    assert parallel.worker_count() == 3
    monkeypatch.setenv("HARNESS_WORKERS", "zero")
    with pytest.raises(ConfigError, match="HARNESS_WORKERS"):
        parallel.worker_count()
    parallel.set_workers(1)
    try:
        assert parallel.worker_count() == 1  # the CLI option wins over the variable
    finally:
        parallel.set_workers(None)
