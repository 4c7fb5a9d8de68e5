"""compare_runs() / render_comparison() on run folders built with evaluate() + the documented files.

Golden numbers: sacrebleu 2.6.0 CLI in tests/fixtures/metrics (NO_COLOR=1):

    sacrebleu ref.vi.txt -i hyp.vi.txt hyp3.vi.txt hyp2.vi.txt -m bleu chrf --paired-bs -f text
      Baseline hyp: BLEU 34.6 (34.7 ± 4.2)          chrF2 55.8 (55.8 ± 2.9)
      hyp3:         32.1 (32.2 ± 5.3) p = 0.0529    54.0 (54.1 ± 3.6) p = 0.0639
      hyp2:         15.0 (14.9 ± 2.7) p = 0.0010    39.4 (39.4 ± 2.4) p = 0.0010
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from harness import store
from harness.compare import compare_runs, render_comparison
from harness.errors import MetricError, RunFolderError
from harness.metrics import evaluate
from harness.score_files import read_lines
from harness.segments import Segment, fingerprint
from harness.textnorm import NormalizationSpec

FIX = Path(__file__).parent / "fixtures" / "metrics"


def _segments(n: int | None = None) -> list[Segment]:
    src, ref = read_lines(FIX / "src.en.txt"), read_lines(FIX / "ref.vi.txt")
    segs = [Segment(f"ntrex-{i}", s, (r,)) for i, (s, r) in enumerate(zip(src, ref, strict=True))]
    return segs[:n] if n else segs


def write_leaf(
    run_dir: Path,
    model: str,
    system: str,
    *,
    dataset: str = "ntrex-mini",
    segments: list[Segment] | None = None,
    metrics: tuple[str, ...] = ("bleu", "chrf"),
    spec: NormalizationSpec | None = None,
) -> Path:
    """One finished leaf laid out as docs/run-folder.md says, from a fixture system output."""
    segments = segments or _segments()
    hyps = read_lines(FIX / f"{system}.vi.txt")[: len(segments)]
    ev = evaluate(
        hyps,
        [list(s.references) for s in segments],
        metrics,
        spec or NormalizationSpec(),
        bootstrap_resamples=100,
    )
    leaf = run_dir / model / dataset
    store.write_lines_atomic(leaf / "hypotheses.txt", hyps)
    store.write_jsonl_atomic(
        leaf / "segments.jsonl",
        (
            {**s.to_json(), "hypothesis": h, "chrf": c}
            for s, h, c in zip(segments, hyps, ev.segment_chrf, strict=True)
        ),
    )
    ev.save_stats(leaf / "stats.npz")
    store.write_json_atomic(
        leaf / "results.json",
        {
            "schema_version": 1,
            "run": run_dir.name,
            "model": {"name": model},
            "dataset": {
                "name": dataset,
                "fingerprint": fingerprint(segments),
                "segments": len(segments),
            },
            "normalization": ev.normalization_json(),
            "scores": ev.to_json(),
        },
    )
    return leaf


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    out = []
    for run, model, system in [
        ("r1", "base", "hyp"),
        ("r2", "close", "hyp3"),
        ("r3", "far", "hyp2"),
    ]:
        write_leaf(root / run, model, system)
        out.append(root / run)
    return out


def test_paired_bootstrap_matches_sacrebleu_cli(runs) -> None:
    c = compare_runs(
        runs, baseline="base", metrics=None, resamples=1000, seed=12345, method="bootstrap"
    )
    (d,) = c.datasets
    assert d.systems == ("base", "close", "far") and d.baseline == "base"
    assert d.holm_applied and d.n_comparisons == 2
    golden = {
        "bleu": {
            "base": (34.6, 34.7, 4.2, None),
            "close": (32.1, 32.2, 5.3, 0.0529),
            "far": (15.0, 14.9, 2.7, 0.0010),
        },
        "chrf": {
            "base": (55.8, 55.8, 2.9, None),
            "close": (54.0, 54.1, 3.6, 0.0639),
            "far": (39.4, 39.4, 2.4, 0.0010),
        },
    }
    assert [m.metric for m in d.metrics] == ["bleu", "chrf"]
    for m in d.metrics:
        for label, (score, mean, pm, p) in golden[m.metric].items():
            r = m.results[label]
            got = (round(r.score, 1), round(r.interval.mean, 1), round(r.interval.plus_minus, 1))
            assert got == (score, mean, pm)
            assert (None if r.p_bootstrap is None else round(r.p_bootstrap, 4)) == p
            assert r.p_ar is None
    bleu = d.metrics[0].results
    # Holm over 2 comparisons: the smaller p doubles, the larger keeps max(its own, that).
    assert bleu["far"].p_bootstrap_holm == pytest.approx(2 * bleu["far"].p_bootstrap)
    assert bleu["close"].p_bootstrap_holm == pytest.approx(bleu["close"].p_bootstrap)


def test_both_methods_and_markdown(runs) -> None:
    c = compare_runs(
        runs, baseline=None, metrics=["chrf"], resamples=200, seed=1, method="both", ar_trials=500
    )
    far = c.datasets[0].metrics[0].results["far"]
    assert far.p_ar == pytest.approx(1 / 501) and far.p_bootstrap == pytest.approx(1 / 201)
    text = render_comparison(c, "markdown")
    assert "| System | chrF2 | p (bootstrap) | p (AR) |" in text
    assert "| base (baseline) | 55.8 ± " in text
    assert "| far | 39.4 ± " in text and "*†" in text
    assert "Holm-adjusted over 2 comparisons per metric" in text
    assert "(500 trials)" in text and "(200 resamples, seed 1)" in text
    assert "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0|textnorm:nfc" in text


def test_csv_and_json(runs) -> None:
    c = compare_runs(
        runs, baseline="close", metrics=None, resamples=100, seed=3, method="ar", ar_trials=200
    )
    rows = list(csv.DictReader(io.StringIO(render_comparison(c, "csv"))))
    assert len(rows) == 3 * 2
    assert {r["system"] for r in rows if r["baseline"] == "True"} == {"close"}
    assert all(r["p_bootstrap"] == "" for r in rows)
    assert {r["significant"] for r in rows if r["system"] == "far"} == {"True"}
    payload = json.loads(render_comparison(c, "json"))
    assert payload["method"] == "ar" and payload["ar_trials"] == 200
    bleu = payload["datasets"][0]["metrics"]["bleu"]["results"]
    assert bleu["close"]["p_ar"] is None and bleu["base"]["p_ar"] > 0
    with pytest.raises(MetricError, match="unknown comparison format"):
        render_comparison(c, "html")


def test_a_run_root_with_several_leaves_and_a_lonely_dataset(tmp_path: Path) -> None:
    write_leaf(tmp_path / "big", "base", "hyp")
    write_leaf(tmp_path / "big", "far", "hyp2")
    write_leaf(tmp_path / "big", "far", "hyp2", dataset="other")
    c = compare_runs(
        [tmp_path / "big"],
        baseline="far",
        metrics=["bleu"],
        resamples=50,
        seed=1,
        method="bootstrap",
    )
    assert [d.dataset for d in c.datasets] == ["ntrex-mini"]
    assert c.datasets[0].systems == ("far", "base") and not c.datasets[0].holm_applied
    assert c.skipped == ("other: only far has results",)
    assert "- skipped other: only far has results" in render_comparison(c, "markdown")
    # A single leaf folder works as well as a run root.
    leaf_only = compare_runs(
        [tmp_path / "big" / "base" / "ntrex-mini", tmp_path / "big" / "far"],
        None,
        ["bleu"],
        50,
        1,
        "bootstrap",
    )
    assert leaf_only.datasets[0].systems == ("base", "far")


def test_same_model_in_two_runs_gets_run_labels(tmp_path: Path) -> None:
    write_leaf(tmp_path / "monday", "opus", "hyp")
    write_leaf(tmp_path / "tuesday", "opus", "hyp3")
    c = compare_runs(
        [tmp_path / "monday", tmp_path / "tuesday"], "tuesday/opus", ["bleu"], 50, 1, "bootstrap"
    )
    assert c.datasets[0].systems == ("tuesday/opus", "monday/opus")
    with pytest.raises(MetricError, match="baseline 'opus' is not one of"):
        compare_runs([tmp_path / "monday", tmp_path / "tuesday"], "opus", None, 50, 1, "bootstrap")


def test_unknown_baseline_suggests(runs) -> None:
    with pytest.raises(MetricError, match=r"baseline 'bsae' .*did you mean 'base'"):
        compare_runs(runs, "bsae", None, 50, 1, "bootstrap")


def test_different_data_under_one_name_is_refused(tmp_path: Path) -> None:
    write_leaf(tmp_path / "a", "base", "hyp")
    write_leaf(tmp_path / "b", "other", "hyp2", segments=_segments(30))
    runs = [tmp_path / "a", tmp_path / "b"]
    with pytest.raises(RunFolderError, match=r"ntrex-mini. differs between runs.*segments"):
        compare_runs(runs, None, None, 50, 1, "bootstrap")
    # With allow_mismatch each version is its own group: neither has two systems to compare.
    with pytest.raises(RunFolderError, match=r"nothing to compare: ntrex-mini \[\d+ segments\]"):
        compare_runs(runs, None, None, 50, 1, "bootstrap", allow_mismatch=True)


def test_different_normalization_is_refused(tmp_path: Path) -> None:
    write_leaf(tmp_path / "a", "base", "hyp")
    write_leaf(tmp_path / "b", "toned", "hyp2", spec=NormalizationSpec(tone_marks="hòa"))
    runs = [tmp_path / "a", tmp_path / "b"]
    with pytest.raises(
        RunFolderError,
        match=r"BLEU on ntrex-mini was not computed alike.*textnorm: nfc vs nfc\+tone",
    ):
        compare_runs(runs, None, None, 50, 1, "bootstrap")
    # With allow_mismatch a metric scored differently is left out, and the note says why: here
    # every metric was, so nothing is left to compare.
    with pytest.raises(RunFolderError, match=r"nothing to compare: BLEU on ntrex-mini: textnorm"):
        compare_runs(runs, None, None, 50, 1, "bootstrap", allow_mismatch=True)


def test_missing_metric_missing_stats_and_edited_stats(tmp_path: Path) -> None:
    write_leaf(tmp_path / "a", "base", "hyp", metrics=("bleu",))
    leaf_b = write_leaf(tmp_path / "b", "far", "hyp2", metrics=("bleu", "ter"))
    pair = [tmp_path / "a", tmp_path / "b"]
    with pytest.raises(RunFolderError, match="no statistics for ter"):
        compare_runs(pair, None, ["ter"], 50, 1, "bootstrap")
    assert [m.metric for m in compare_runs(pair, None, None, 50, 1, "ar").datasets[0].metrics] == [
        "bleu"
    ]
    stats = dict(np.load(leaf_b / "stats.npz"))
    stats["bleu"] = stats["bleu"].copy()
    stats["bleu"][0, 2] += 5
    np.savez(leaf_b / "stats.npz", **stats)
    with pytest.raises(RunFolderError, match="does not reproduce the bleu score"):
        compare_runs(pair, None, None, 50, 1, "bootstrap")
    (leaf_b / "stats.npz").unlink()
    with pytest.raises(RunFolderError, match=f"{leaf_b}: no stats.npz"):
        compare_runs(pair, None, None, 50, 1, "bootstrap")


def test_bad_arguments(runs, tmp_path: Path) -> None:
    with pytest.raises(MetricError, match="unknown comparison method 'perm'"):
        compare_runs(runs, None, None, 50, 1, "perm")
    with pytest.raises(MetricError, match="resamples must be >= 1"):
        compare_runs(runs, None, None, 0, 1, "bootstrap")
    with pytest.raises(RunFolderError, match="run folder not found"):
        compare_runs([tmp_path / "nothing"], None, None, 50, 1, "bootstrap")
