"""Paired bootstrap, approximate randomization, intervals and Holm, checked against sacrebleu.

Golden numbers: sacrebleu 2.6.0 CLI in tests/fixtures/metrics, with NO_COLOR=1:

    sacrebleu ref.vi.txt -i hyp.vi.txt hyp3.vi.txt hyp2.vi.txt -m bleu chrf ter --paired-bs -f text
      Baseline hyp: BLEU 34.6 (34.7 ± 4.2)  chrF2 55.8 (55.8 ± 2.9)  TER 33.4 (33.4 ± 2.3)
      hyp3:         32.1 (32.2 ± 5.3) p = 0.0529   54.0 (54.1 ± 3.6) p = 0.0639
                    35.6 (35.5 ± 3.3) p = 0.0569
      hyp2:         15.0 (14.9 ± 2.7) p = 0.0010   39.4 (39.4 ± 2.4) p = 0.0010
                    50.1 (50.2 ± 2.4) p = 0.0010
    sacrebleu ... same systems ... --paired-ar -f text
      hyp3: p = 0.1209 (BLEU), 0.1209 (chrF2), 0.0001 (TER); hyp2: 0.0001 for all three

hyp3 differs from hyp in only 3 segments, so of the 2^3 ways to swap them, 2 (none swapped, all
swapped) reproduce the observed difference exactly: the permutation p-value is about 2/8.
sacrebleu counts only strictly larger differences, so it reports whichever of those two ties
float rounding happens to push above the observed value (1/8 for BLEU and chrF, 0 for TER).
We count ties (harness.metrics.significance._count_extreme) and get 0.2473 for all three.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.errors import MetricError
from harness.metrics import significance as sig
from harness.metrics.registry import get_metric
from harness.metrics.sacre import make_metric
from harness.metrics.stats import extract_stats, sacre_score
from harness.score_files import read_lines

FIX = Path(__file__).parent / "fixtures" / "metrics"
SYSTEMS = ("hyp", "hyp3", "hyp2")


@pytest.fixture(scope="module")
def texts() -> dict[str, list[str]]:
    return {n: read_lines(FIX / f"{n}.vi.txt") for n in ("ref", *SYSTEMS)}


def _inputs(texts, metric: str) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    refs = [[r] for r in texts["ref"]]
    stats = {n: extract_stats(metric, texts[n], refs)[0] for n in SYSTEMS}
    return stats, {n: float(sacre_score(metric, s).score) for n, s in stats.items()}


GOLDEN_BS = {
    "bleu": {
        "hyp": (34.6, 34.7, 4.2, None),
        "hyp3": (32.1, 32.2, 5.3, "0.0529"),
        "hyp2": (15.0, 14.9, 2.7, "0.0010"),
    },
    "chrf": {
        "hyp": (55.8, 55.8, 2.9, None),
        "hyp3": (54.0, 54.1, 3.6, "0.0639"),
        "hyp2": (39.4, 39.4, 2.4, "0.0010"),
    },
    "ter": {
        "hyp": (33.4, 33.4, 2.3, None),
        "hyp3": (35.6, 35.5, 3.3, "0.0569"),
        "hyp2": (50.1, 50.2, 2.4, "0.0010"),
    },
}
GOLDEN_AR_HYP2 = "0.0001"  # the same in sacrebleu and here: no ties
SACREBLEU_AR_HYP3 = {"bleu": 0.1209, "chrf": 0.1209, "ter": 0.0001}  # ties not counted


@pytest.mark.parametrize("metric", ["bleu", "chrf", "ter"])
def test_paired_bootstrap_matches_sacrebleu_cli(texts, metric: str) -> None:
    stats, scores = _inputs(texts, metric)
    result = sig.paired_bootstrap(metric, stats, scores, "hyp", 1000, 12345)
    for name, (score, mean, pm, p) in GOLDEN_BS[metric].items():
        r = result[name]
        assert (round(r.score, 1), round(r.interval.mean, 1), round(r.interval.plus_minus, 1)) == (
            score,
            mean,
            pm,
        )
        assert (None if r.p_value is None else f"{r.p_value:.4f}") == p


@pytest.mark.parametrize("metric", ["bleu", "chrf", "ter"])
def test_approximate_randomization_matches_sacrebleu_cli(texts, metric: str) -> None:
    stats, scores = _inputs(texts, metric)
    p = sig.approximate_randomization(metric, stats, scores, "hyp", 10000, 12345)
    assert set(p) == {"hyp3", "hyp2"}
    assert f"{p['hyp2']:.4f}" == GOLDEN_AR_HYP2
    assert f"{p['hyp3']:.4f}" == "0.2473"  # ~2/8, see the module docstring
    assert p["hyp3"] > SACREBLEU_AR_HYP3[metric]


@pytest.mark.parametrize(("metric", "test_type"), [("chrf++", "bs"), ("bleu", "ar")])
def test_against_sacrebleu_paired_test_api_other_seed(texts, monkeypatch, metric, test_type):
    from sacrebleu.significance import PairedTest

    monkeypatch.setenv("SACREBLEU_SEED", "7")
    n = 300
    refs = [texts["ref"]]
    named = [(name, texts[name]) for name in SYSTEMS]
    metric_obj = make_metric(metric, references=refs)
    _, theirs = PairedTest(
        named, {get_metric(metric).display_name: metric_obj}, None, test_type=test_type, n_samples=n
    )()
    theirs = dict(zip(theirs["System"], theirs[get_metric(metric).display_name], strict=True))
    stats, scores = _inputs(texts, metric)
    if test_type == "bs":
        ours = sig.paired_bootstrap(metric, stats, scores, "hyp", n, 7)
        for name in SYSTEMS:
            assert ours[name].interval.mean == pytest.approx(theirs[name].mean, abs=1e-3)
            assert ours[name].interval.plus_minus == pytest.approx(theirs[name].ci, abs=1e-3)
            if name != "hyp":  # float32 in sacrebleu may flip at most a borderline resample
                assert abs(ours[name].p_value - theirs[name].p_value) <= 1 / (n + 1) + 1e-12
    else:
        ours_p = sig.approximate_randomization(metric, stats, scores, "hyp", n, 7)
        assert ours_p["hyp2"] == pytest.approx(theirs["hyp2"].p_value, abs=1 / (n + 1) + 1e-12)
        assert ours_p["hyp3"] >= theirs["hyp3"].p_value  # ties counted here, not there


def test_resample_counts_are_sacrebleus_draws_in_any_chunking(monkeypatch) -> None:
    n, rounds = 35, 200
    idx = np.random.default_rng(12345).choice(n, size=(rounds, n), replace=True)
    expected = np.stack([np.bincount(row, minlength=n) for row in idx])
    monkeypatch.setattr(sig, "_CHUNK_CELLS", n * 64)  # 64-row chunks: 64, 64, 64, 8
    chunks = list(sig.resample_counts(n, rounds, 12345))
    assert [len(c) for c in chunks] == [64, 64, 64, 8]
    np.testing.assert_array_equal(np.vstack(chunks), expected)
    assert (np.vstack(chunks).sum(axis=1) == n).all()


def test_swap_chunks_are_one_draw(monkeypatch) -> None:
    n, trials = 13, 300
    expected = np.random.default_rng(5).integers(2, size=(trials, n), dtype=bool)
    monkeypatch.setattr(sig, "_CHUNK_CELLS", n * 64)
    got = np.vstack(list(sig._swap_chunks(n, trials, 5)))
    np.testing.assert_array_equal(got.astype(bool), expected)


def test_estimate_ci_definition() -> None:
    ci = sig.estimate_ci(np.arange(1000.0)[::-1])
    assert (ci.low, ci.high, ci.mean, ci.plus_minus) == (25.0, 974.0, 499.5, 474.5)
    with pytest.raises(MetricError):
        sig.estimate_ci(np.array([]))


def test_identical_systems_are_not_different(texts) -> None:
    stats, scores = _inputs(texts, "bleu")
    same = {"a": stats["hyp"], "b": stats["hyp"].copy()}
    same_scores = {"a": scores["hyp"], "b": scores["hyp"]}
    # sacrebleu prints p = 0.0010* for a system against a copy of itself; ties count here.
    assert sig.paired_bootstrap("bleu", same, same_scores, "a", 200, 1)["b"].p_value == 1.0
    assert sig.approximate_randomization("bleu", same, same_scores, "a", 200, 1)["b"] == 1.0


def test_holm() -> None:
    assert sig.holm({"a": 0.01, "b": 0.04, "c": 0.03}) == pytest.approx(
        {"a": 0.03, "b": 0.06, "c": 0.06}
    )
    assert sig.holm({"only": 0.2}) == {"only": 0.2}
    assert sig.holm({"a": 0.6, "b": 0.7}) == {"a": 1.0, "b": 1.0}
    assert list(sig.holm({"z": 0.5, "a": 0.01})) == ["z", "a"]  # input order kept
    assert sig.holm({}) == {}


def test_errors(texts) -> None:
    stats, scores = _inputs(texts, "bleu")
    with pytest.raises(MetricError, match="baseline 'nope'"):
        sig.paired_bootstrap("bleu", stats, scores, "nope", 10, 1)
    with pytest.raises(MetricError, match="different numbers of segments"):
        sig.paired_bootstrap(
            "bleu", {"a": stats["hyp"], "b": stats["hyp2"][:-1]}, {"a": 1.0, "b": 2.0}, "a", 10, 1
        )
    with pytest.raises(MetricError, match="no corpus score"):
        sig.approximate_randomization("bleu", stats, {"hyp": 1.0}, "hyp", 10, 1)
    with pytest.raises(MetricError, match="cannot resample"):
        next(sig.resample_counts(5, 0, 1))
