"""evaluate(): corpus scores from sufficient statistics, intervals, normalization, stats.npz.

Golden numbers come from the sacrebleu 2.6.0 command line on tests/fixtures/metrics (see the
README there), never from the code under test:

    sacrebleu ref.vi.txt -i hyp.vi.txt -m bleu chrf ter -f text               -> 34.6 / 55.8 / 33.4
    sacrebleu ref.vi.txt -i hyp.vi.txt -m chrf --chrf-word-order 2 -f text    -> chrF2++ 56.7
    sacrebleu ref.vi.txt ref2.vi.txt -i hyp.vi.txt -m bleu chrf ter -f text   -> 38.3 / 56.1 / 34.1
    sacrebleu ref.vi.txt -i hyp.vi.txt -m bleu chrf ter --confidence -f text
        -> BLEU 34.6 (μ = 34.7 ± 4.2), chrF2 55.8 (μ = 55.8 ± 2.9), TER 33.4 (μ = 33.4 ± 2.3)
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import MetricError, RunFolderError
from harness.metrics import evaluate, load_stats
from harness.metrics.sacre import corpus_score, make_metric, sentence_scores
from harness.metrics.stats import COLUMNS, extract_stats, sacre_score, scores_from_totals
from harness.score_files import read_lines
from harness.textnorm import NormalizationSpec

FIX = Path(__file__).parent / "fixtures" / "metrics"
ALL = ["bleu", "chrf", "chrf++", "ter"]


@pytest.fixture(scope="module")
def data() -> dict[str, list[str]]:
    return {name: read_lines(FIX / f"{name}.vi.txt") for name in ("ref", "ref2", "hyp", "hyp2")}


@pytest.fixture(scope="module")
def one_ref(data: dict[str, list[str]]):
    return evaluate(data["hyp"], [[r] for r in data["ref"]], ALL, NormalizationSpec())


def test_golden_scores_from_the_sacrebleu_cli(one_ref, data) -> None:
    got = {m: round(r.score, 1) for m, r in one_ref.scores.items()}
    assert got == {"bleu": 34.6, "chrf": 55.8, "chrf++": 56.7, "ter": 33.4}
    two = evaluate(
        data["hyp"],
        [list(p) for p in zip(data["ref"], data["ref2"], strict=True)],
        ["bleu", "chrf", "ter"],
        NormalizationSpec(),
        bootstrap_resamples=0,
    )
    assert {m: round(r.score, 1) for m, r in two.scores.items()} == {
        "bleu": 38.3,
        "chrf": 56.1,
        "ter": 34.1,
    }
    assert two.scores["bleu"].signature.startswith("nrefs:2|")


def test_golden_intervals_from_sacrebleu_confidence(one_ref) -> None:
    expected = {"bleu": (34.7, 4.2), "chrf": (55.8, 2.9), "ter": (33.4, 2.3)}
    for metric, (mean, pm) in expected.items():
        record = one_ref.scores[metric]
        assert (round(record.interval.mean, 1), round(record.plus_minus, 1)) == (mean, pm)
        assert record.n_resamples == 1000 and record.seed == 12345
        low, high = record.ci95
        assert low < record.score < high


@pytest.mark.parametrize("refs_of", ["one", "two", "ragged"])
def test_score_from_stats_equals_sacrebleu_corpus_score(data, refs_of: str) -> None:
    if refs_of == "one":
        refs = [[r] for r in data["ref"]]
    elif refs_of == "two":
        refs = [list(p) for p in zip(data["ref"], data["ref2"], strict=True)]
    else:  # variable number of references per segment
        refs = [
            [r, r2] if i % 3 else [r]
            for i, (r, r2) in enumerate(zip(data["ref"], data["ref2"], strict=True))
        ]
    ev = evaluate(data["hyp"], refs, ALL, NormalizationSpec(), bootstrap_resamples=0)
    for metric in ALL:
        direct = corpus_score(metric, data["hyp"], refs)
        assert ev.scores[metric].score == pytest.approx(direct.score, abs=1e-9)
        assert f"{ev.scores[metric].score:.2f}" == f"{direct.score:.2f}"
        assert ev.scores[metric].sacrebleu_signature == direct.signature
        assert ev.scores[metric].signature == direct.signature + "|textnorm:nfc"


def test_vectorized_scores_match_sacrebleu_on_resampled_totals(data) -> None:
    refs = [[r] for r in data["ref"]]
    rng = np.random.default_rng(7)
    for metric in ALL:
        stats, _ = extract_stats(metric, data["hyp2"], refs)
        # Resamples plus small subsets, where zero-match orders and short corpora appear.
        weights = np.vstack(
            [rng.multinomial(len(stats), [1 / len(stats)] * len(stats), 40), np.eye(len(stats))]
        )
        totals = weights @ stats.astype(np.float64)
        ours = scores_from_totals(metric, totals)
        sacre = make_metric(metric)
        theirs = [sacre._compute_score_from_stats(row.tolist()).score for row in totals]
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("metric", "row"),
    [
        ("bleu", [0, 5, 0, 0, 0, 0, 0, 0, 0, 0]),  # empty hypothesis
        ("bleu", [3, 5, 2, 1, 0, 0, 3, 2, 1, 0]),  # no 4-grams: sacrebleu stops early
        ("bleu", [9, 5, 5, 0, 0, 0, 9, 8, 7, 6]),  # exp smoothing of zero matches
        ("bleu", [9, 5, 0, 0, 0, 0, 9, 8, 7, 6]),  # no match at all
        ("chrf", [0] * 18),
        ("chrf", [4, 0, 0] * 6),  # empty reference
        ("ter", [3, 0]),  # empty reference, non-empty hypothesis
        ("ter", [0, 0]),
    ],
)
def test_vectorized_edge_cases(metric: str, row: list[int]) -> None:
    expected = make_metric(metric)._compute_score_from_stats(list(row)).score
    assert scores_from_totals(metric, np.array([row]))[0] == pytest.approx(expected, abs=1e-12)


def test_segment_chrf_is_sacrebleu_sentence_chrf(one_ref, data) -> None:
    refs = [[r] for r in data["ref"]]
    expected = sentence_scores("chrf", data["hyp"], refs)
    assert one_ref.segment_chrf == pytest.approx(expected, abs=1e-12)
    assert len(one_ref.segment_chrf) == len(data["hyp"])
    only_bleu = evaluate(data["hyp"], refs, ["bleu"], NormalizationSpec(), 0)
    assert only_bleu.segment_chrf == one_ref.segment_chrf
    assert set(only_bleu.stats) == {"bleu"}


def test_stats_have_documented_shape(one_ref, data) -> None:
    for metric, stats in one_ref.stats.items():
        assert stats.shape == (len(data["hyp"]), len(COLUMNS[metric]))
        assert sacre_score(metric, stats).score == one_ref.scores[metric].score


def test_to_json_shape(one_ref) -> None:
    payload = one_ref.to_json()
    assert list(payload) == ALL
    bleu = payload["bleu"]
    assert bleu["name"] == "BLEU" and bleu["higher_is_better"] is True
    assert payload["ter"]["higher_is_better"] is False
    assert bleu["plus_minus"] == pytest.approx((bleu["ci95"][1] - bleu["ci95"][0]) / 2)
    assert bleu["details"]["sys_len"] == 999 and bleu["details"]["ref_len"] == 1132
    assert "raw_score" not in bleu  # identity spec: nothing to show side by side
    assert one_ref.normalization_json()["scoring"] == "nfc"


def test_tone_spec_keeps_the_raw_score_beside_the_normalized_one() -> None:
    refs = [["Đội bóng đã có một trận hòa với Chelsea."], ["Các thủy thủ tuần tra bờ biển."]]
    hyps = ["Đội bóng đã có một trận hoà với Chelsea.", "Các thuỷ thủ tuần tra bờ biển."]
    spec = NormalizationSpec(tone_marks="hòa")
    ev = evaluate(hyps, refs, ["bleu", "chrf"], spec, bootstrap_resamples=50)
    plain = evaluate(hyps, refs, ["bleu", "chrf"], NormalizationSpec(), bootstrap_resamples=0)
    for metric in ("bleu", "chrf"):
        record = ev.scores[metric]
        assert record.score == pytest.approx(100.0)
        assert record.raw_score == pytest.approx(plain.scores[metric].score)
        assert record.raw_score < record.score
        assert record.signature.endswith("|version:2.6.0|textnorm:nfc+tone:hòa")
        assert record.raw_signature.endswith("|version:2.6.0|textnorm:nfc")
    assert ev.changed.spec_hypotheses == 2 and ev.changed.spec_references == 0
    assert set(ev.raw_stats) == {"bleu", "chrf"}


def test_boundary_normalization_is_counted_and_nfd_scores_as_nfc(data) -> None:
    refs = [[r] for r in data["ref"]]
    nfd_hyps = [unicodedata.normalize("NFD", h) for h in data["hyp"]]
    nfd_refs = [[unicodedata.normalize("NFD", r)] for r in data["ref"]]
    ev = evaluate(nfd_hyps, nfd_refs, ["bleu", "chrf"], NormalizationSpec(), 0)
    nfc = evaluate(data["hyp"], refs, ["bleu", "chrf"], NormalizationSpec(), 0)
    assert {m: r.score for m, r in ev.scores.items()} == {m: r.score for m, r in nfc.scores.items()}
    changed = sum(h != n for h, n in zip(nfd_hyps, data["hyp"], strict=True))
    assert changed > 0 and ev.changed.boundary_hypotheses == changed
    assert ev.changed.boundary_references == sum(
        r[0] != n for r, n in zip(nfd_refs, data["ref"], strict=True)
    )


@pytest.mark.parametrize(
    ("hyps", "refs", "message"),
    [
        (["a", "b", "c"], [["a"], ["b"]], "3 hypotheses but 2 reference"),
        (["a"], [[]], "segment 0 has no reference"),
        (["a"], ["a"], "references of segment 0"),
        ([], [], "0 hypotheses"),
        ([None], [["a"]], "hypothesis 0 is NoneType"),
    ],
)
def test_bad_input_raises(hyps, refs, message: str) -> None:
    with pytest.raises(MetricError, match=message):
        evaluate(hyps, refs, ["bleu"], NormalizationSpec(), 0)


def test_bad_arguments_raise() -> None:
    with pytest.raises(MetricError, match="unknown metric 'blue'"):
        evaluate(["a"], [["a"]], ["blue"], NormalizationSpec())
    with pytest.raises(MetricError, match="bootstrap_resamples"):
        evaluate(["a"], [["a"]], ["bleu"], NormalizationSpec(), bootstrap_resamples=-1)


def test_save_and_load_stats_round_trip(tmp_path: Path) -> None:
    spec = NormalizationSpec(tone_marks="hòa")
    ev = evaluate(["trận hoà", "x y z"], [["trận hòa"], ["x y"]], ALL, spec, 20)
    path = ev.save_stats(tmp_path / "leaf" / "stats.npz")
    loaded = load_stats(path)
    assert set(loaded) == set(ALL)
    for metric in ALL:
        np.testing.assert_array_equal(loaded[metric], ev.stats[metric])
        assert loaded[metric].dtype == ev.stats[metric].dtype
    with_raw = load_stats(path, include_raw=True)
    assert set(with_raw) == set(ALL) | {f"raw.{m}" for m in ALL}
    assert not list(path.parent.glob(".*tmp"))  # the atomic write left nothing behind
    # numpy reads every array as it was written, and the same statistics make the same bytes
    # (no write time inside), so a rerun's stats.npz equals the first run's.
    with np.load(path, allow_pickle=False) as npz:
        for metric in ALL:
            np.testing.assert_array_equal(npz[f"raw.{metric}"], ev.raw_stats[metric])
    again = ev.save_stats(tmp_path / "again" / "stats.npz")
    assert again.read_bytes() == path.read_bytes()


def test_load_stats_rejects_broken_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    with pytest.raises(RunFolderError, match=r"broken\.npz"):
        load_stats(broken)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, bleu=np.zeros((3, 10)))
    with pytest.raises(RunFolderError, match="statistics format None"):
        load_stats(foreign)
    ev = evaluate(["a b"], [["a b"]], ["bleu"], NormalizationSpec(), 0)
    replace(ev, stats={"bleu": np.zeros((1, 7), dtype=np.int64)}).save_stats(
        tmp_path / "bad-shape.npz"
    )
    with pytest.raises(RunFolderError, match=r"shape \(1, 7\); expected \(n_segments, 10\)"):
        load_stats(tmp_path / "bad-shape.npz")


# --- properties -------------------------------------------------------------------------

_WORDS = ["trận", "hòa", "Các", "thủy", "thủ", "bóng", "đá", "với", "Chelsea", ",", "."]
_sentence = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=8).map(" ".join)
_PROPS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_PROPS
@given(st.lists(_sentence, min_size=1, max_size=6))
def test_identical_output_is_perfect(refs: list[str]) -> None:
    ev = evaluate(refs, [[r] for r in refs], ALL, NormalizationSpec(), 0)
    assert ev.scores["chrf"].score == pytest.approx(100.0)
    assert ev.scores["chrf++"].score == pytest.approx(100.0)
    assert ev.scores["ter"].score == 0.0
    # BLEU is 100, unless no segment has a 4-gram: then sacrebleu defines it as 0.
    has_4gram = any(len(r.split()) >= 4 for r in refs)
    assert ev.scores["bleu"].score == pytest.approx(100.0 if has_4gram else 0.0)


@_PROPS
@given(st.lists(st.tuples(_sentence, _sentence), min_size=2, max_size=6), st.randoms())
def test_shuffling_segments_with_their_references_changes_nothing(pairs, rnd) -> None:
    shuffled = list(pairs)
    rnd.shuffle(shuffled)
    a = evaluate([h for h, _ in pairs], [[r] for _, r in pairs], ALL, NormalizationSpec(), 0)
    b = evaluate([h for h, _ in shuffled], [[r] for _, r in shuffled], ALL, NormalizationSpec(), 0)
    for metric in ALL:
        assert a.scores[metric].score == pytest.approx(b.scores[metric].score, abs=1e-9)


def test_garbage_hypothesis_lowers_every_metric(data) -> None:
    refs = [[r] for r in data["ref"]]
    garbage = list(data["hyp"])
    garbage[random.Random(0).randrange(len(garbage))] = "zzz qqq xxx"
    good = evaluate(data["hyp"], refs, ALL, NormalizationSpec(), 0)
    bad = evaluate(garbage, refs, ALL, NormalizationSpec(), 0)
    for metric in ("bleu", "chrf", "chrf++"):
        assert bad.scores[metric].score < good.scores[metric].score
    assert bad.scores["ter"].score > good.scores["ter"].score


# --- full NTREX-128 (shared data) --------------------------------------------------------

NTREX = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ntrex128"


@pytest.mark.shared_data
@pytest.mark.skipif(not NTREX.is_dir(), reason="../shared/data/ntrex128 is not here")
def test_full_ntrex_scores_and_intervals_equal_sacrebleus() -> None:
    from harness.textnorm import normalize_boundary

    refs = [normalize_boundary(r) for r in read_lines(NTREX / "newstest2019-ref.vie.txt")]
    rnd = random.Random(3)
    hyps = [" ".join(w for w in r.split() if rnd.random() > 0.1) for r in refs]
    ev = evaluate(hyps, [[r] for r in refs], ["bleu", "chrf"], NormalizationSpec(), 1000, 12345)
    assert len(ev.segment_chrf) == len(refs) == 1997
    for metric in ("bleu", "chrf"):
        # sacrebleu's own bootstrap (seed 12345 from SACREBLEU_SEED's default), one at a time.
        theirs = make_metric(metric).corpus_score(hyps, [refs], n_bootstrap=1000)
        record = ev.scores[metric]
        assert record.score == pytest.approx(theirs.score, abs=1e-9)
        assert record.interval.mean == pytest.approx(theirs._mean, abs=1e-3)
        assert record.plus_minus == pytest.approx(theirs._ci, abs=1e-3)
