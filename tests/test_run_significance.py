"""A run's paired tests against its baseline, remembered in the statistics cache: the same
comparison.md and results.json blocks as computed ones, drawn again when anything changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_compare import write_leaf

import harness.compare
from harness.config import RunConfig
from harness.report.run_reports import attach_significance


def _config(**statistics: object) -> RunConfig:
    return RunConfig.model_validate(
        {
            "name": "r",
            "datasets": [{"kind": "files", "source": "s.en", "references": ["r.vi"]}],
            "models": [{"name": n, "model": f"/models/{n}"} for n in ("base", "close", "far")],
            "metrics": ["bleu", "chrf"],
            "statistics": {"baseline": "base", "bootstrap_resamples": 100, **statistics},
        }
    )


@pytest.fixture
def compared(count_calls) -> list[int]:
    """How many times the tests were really drawn (compare_runs called)."""
    return count_calls(harness.compare, "compare_runs")


def _outputs(run: Path) -> tuple[str, list[dict]]:
    blocks = [
        json.loads((run / m / "ntrex-mini" / "results.json").read_text("utf-8"))["significance"]
        for m in ("base", "close", "far")
    ]
    return (run / "comparison.md").read_text("utf-8"), blocks


def _leaves(tmp_path: Path, far: str = "hyp2") -> tuple[Path, list[Path]]:
    run = tmp_path / "runs" / "r"
    return run, [
        write_leaf(run, m, s) for m, s in (("base", "hyp"), ("close", "hyp3"), ("far", far))
    ]


def test_remembered_tests_equal_drawn_ones(tmp_path: Path, compared: list[int]) -> None:
    run, leaves = _leaves(tmp_path)
    attach_significance(run, _config(), leaves)  # no cache
    plain = _outputs(run)
    cache = tmp_path / "cache"
    for _ in range(3):
        _leaves(tmp_path)  # the leaves as a rerun writes them: no significance block yet
        attach_significance(run, _config(), leaves, cache)
        assert _outputs(run) == plain
    assert compared[0] == 2  # the uncached one and the first cached one
    assert plain[1][1]["metrics"]["bleu"]["p_bootstrap"] is not None
    assert plain[1][0]["is_baseline"] and not plain[1][1]["is_baseline"]


def test_other_statistics_or_settings_draw_again(tmp_path: Path, compared: list[int]) -> None:
    run, leaves = _leaves(tmp_path)
    cache = tmp_path / "cache"
    attach_significance(run, _config(), leaves, cache)
    attach_significance(run, _config(seed=7), leaves, cache)
    attach_significance(run, _config(bootstrap_resamples=50), leaves, cache)
    _leaves(tmp_path, far="hyp3")  # one system's output changed: other statistics
    attach_significance(run, _config(), leaves, cache)
    assert compared[0] == 4
    fresh = _outputs(run)
    attach_significance(run, _config(), leaves)  # uncached, on the same leaves
    assert _outputs(run) == fresh
