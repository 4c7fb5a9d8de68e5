"""A leaf's remembered numbers: the same as computed ones, used only when every input is the
same, one row per leaf."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

import harness.metrics
from harness import leaf_scores
from harness.leaf_scores import LeafInputs, score_leaf
from harness.metrics.registry import _REGISTRY, get_metric, metric_config
from harness.metrics.stats_cache import StatsCache
from harness.segments import Segment
from harness.textnorm import NormalizationSpec

FIX = Path(__file__).parent / "fixtures" / "metrics"
HYPS = (FIX / "hyp.vi.txt").read_text(encoding="utf-8").splitlines()
REFS = (FIX / "ref.vi.txt").read_text(encoding="utf-8").splitlines()
SEGMENTS = tuple(Segment(str(i), f"Source sentence {i} .", (r,)) for i, r in enumerate(REFS))
METRICS = [metric_config(n) for n in ("bleu", "chrf", "chrf++", "ter")]
LEAF = "/runs/x/model/data"


def inputs(**change: object) -> LeafInputs:
    base = LeafInputs(SEGMENTS, HYPS, METRICS, NormalizationSpec(), 30, 12345)
    return dataclasses.replace(base, **change)


@pytest.fixture
def computed(count_calls) -> list[int]:
    """How many times the leaf was really scored (harness.metrics.evaluate called)."""
    return count_calls(harness.metrics, "evaluate")


def test_remembered_numbers_equal_computed_ones(tmp_path: Path, computed: list[int]) -> None:
    plain = score_leaf(inputs(), LEAF)  # no cache
    with StatsCache.in_dir(tmp_path) as cache:
        first = score_leaf(inputs(), LEAF, stats_cache=cache)
        again = score_leaf(inputs(), LEAF, stats_cache=cache)
    assert computed[0] == 2  # the plain one and the first cached one; the rerun scored nothing
    assert again == first == plain  # every field, the stats.npz bytes included
    assert set(again.headline) == {"bleu", "chrf", "chrf++", "ter"}
    assert len(again.segment_numbers) == len(SEGMENTS)
    assert again.analysis["length_buckets"]["buckets"]


@pytest.mark.parametrize(
    "change",
    [
        {"hypotheses": [*HYPS[:-1], HYPS[-1] + " x"]},  # one character of one segment
        {"segments": (*SEGMENTS[:-1], dataclasses.replace(SEGMENTS[-1], source="Other ."))},
        {"segments": (*SEGMENTS[:-1], dataclasses.replace(SEGMENTS[-1], id="other"))},
        {"seed": 7},
        {"resamples": 40},
        {"spec": NormalizationSpec(tone_marks="hòa")},
        {"metrics": METRICS[:3]},
    ],
)
def test_any_changed_input_scores_the_leaf_again(
    tmp_path: Path, computed: list[int], change: dict
) -> None:
    with StatsCache.in_dir(tmp_path) as cache:
        score_leaf(inputs(), LEAF, stats_cache=cache)
        changed = score_leaf(inputs(**change), LEAF, stats_cache=cache)
        assert computed[0] == 2
        assert changed == score_leaf(inputs(**change), LEAF)  # what a fresh scoring gives
    assert _rows(tmp_path) == 1  # the leaf's row was replaced, not added to


def test_each_leaf_has_its_row(tmp_path: Path, computed: list[int]) -> None:
    with StatsCache.in_dir(tmp_path) as cache:
        score_leaf(inputs(), LEAF, stats_cache=cache)
        score_leaf(inputs(), LEAF + "-other", stats_cache=cache)
        score_leaf(inputs(), LEAF, stats_cache=cache)
    assert computed[0] == 2 and _rows(tmp_path) == 2


def test_a_row_that_does_not_fit_is_scored_again(tmp_path: Path, computed: list[int]) -> None:
    with StatsCache.in_dir(tmp_path) as cache:
        fresh = score_leaf(inputs(), LEAF, stats_cache=cache)
        for damage in ('{"scores": 1}', "[]", '{"scores": {}, "normalization": {}, '
                       '"analysis": {}, "segment_numbers": []}'):  # fmt: skip
            cache._db.execute("UPDATE leaf_scores SET value = ?", (damage,))
            assert score_leaf(inputs(), LEAF, stats_cache=cache) == fresh
    assert computed[0] == 4


def test_a_metric_that_cannot_say_what_decides_it_is_never_remembered(
    tmp_path: Path, computed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model-based metrics' registry entries have no identity (their per-segment scores
    are cached by checkpoint pin elsewhere): a leaf scored with one is scored every time."""
    spec = get_metric("ter")
    monkeypatch.setitem(_REGISTRY, "ter", dataclasses.replace(spec, identity=None))
    assert leaf_scores.inputs_key(inputs()) is None
    with StatsCache.in_dir(tmp_path) as cache:
        score_leaf(inputs(), LEAF, stats_cache=cache)
        score_leaf(inputs(), LEAF, stats_cache=cache)
    assert computed[0] == 2 and _rows(tmp_path) == 0
    assert get_metric("comet").identity is None  # so that is what happens to them


def test_the_scoring_code_is_part_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key = leaf_scores.inputs_key(inputs())
    assert key is not None and leaf_scores.inputs_key(inputs()) == key
    monkeypatch.setattr(leaf_scores, "code_digest", lambda *patterns: "an edited scorer")
    assert leaf_scores.inputs_key(inputs()) != key


def _rows(cache_dir: Path) -> int:
    db = sqlite3.connect(cache_dir / "metric-stats.sqlite")
    try:
        return int(db.execute("SELECT COUNT(*) FROM leaf_scores").fetchone()[0])
    finally:
        db.close()
