"""Neural metrics through `harness run` and `harness score`, on the tiny fixture checkpoints
(their equality with unbabel-comet and google-research/metricx is in test_neural_*.py)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from harness.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
TRAINED = FIXTURES / "models" / "tiny-marian-en-vi-trained"
NEURAL = FIXTURES / "neural"


@pytest.fixture(scope="module")
def metricx_model(tmp_path_factory) -> Path:
    from harness.devtools.metricx_fixture import expand_checkpoint

    out = tmp_path_factory.mktemp("metricx") / "model"
    expand_checkpoint(NEURAL / "metricx" / "model-compact", out)
    return out


def _write_config(tmp_path: Path, models: list, metrics: list, statistics: dict) -> Path:
    """A run of ``models`` on the built-in sample, folders under ``tmp_path``."""
    config = {
        "name": "neural",
        "output_dir": str(tmp_path / "runs"),
        "cache_dir": str(tmp_path / "cache"),
        "datasets": ["itu-wtisd-2021"],
        "models": models,
        "metrics": metrics,
        "statistics": statistics,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _config(tmp_path: Path, metricx_model: Path) -> Path:
    models = [
        {"name": "greedy", "model": str(TRAINED), "max_new_tokens": 32},
        {"name": "beam", "model": str(TRAINED), "max_new_tokens": 32, "num_beams": 2},
    ]
    metrics = [
        "bleu",
        "chrf",
        {"name": "comet", "model": str(NEURAL / "comet-tiny")},
        {"name": "xcomet", "model": str(NEURAL / "xcomet-tiny")},
        {
            "name": "metricx",
            "model": str(metricx_model),
            "tokenizer": str(NEURAL / "metricx" / "tokenizer"),
        },
    ]
    return _write_config(
        tmp_path, models, metrics, {"bootstrap_resamples": 100, "baseline": "greedy"}
    )


def test_run_writes_neural_scores_with_intervals_significance_tables_and_report(
    tmp_path, metricx_model, capsys
):
    config = _config(tmp_path, metricx_model)
    assert main(["run", str(config), "-q"]) == 0
    table = capsys.readouterr().out
    assert "itu-wtisd-2021 COMET" in table and "itu-wtisd-2021 MetricX-24" in table
    assert "comet:" in table and "metricx:" in table  # signatures in the legend
    run = tmp_path / "runs" / "neural"
    leaf = run / "beam" / "itu-wtisd-2021"
    results = json.loads((leaf / "results.json").read_text(encoding="utf-8"))
    for name in ("bleu", "chrf", "comet", "xcomet", "metricx"):
        record = results["scores"][name]
        assert record["ci95"] is not None and record["n_resamples"] == 100, name
        assert name in results["significance"]["metrics"]
    assert results["scores"]["metricx"]["higher_is_better"] is False
    assert results["scores"]["comet"]["signature"].startswith("comet:")
    assert "|nrefs:1|" in results["scores"]["comet"]["signature"]
    rows = [json.loads(line) for line in (leaf / "segments.jsonl").read_text().splitlines()]
    assert all({"comet", "xcomet", "metricx", "error_spans"} <= set(r) for r in rows)
    # The corpus score is the mean of the segment scores written beside the hypotheses.
    mean = sum(r["comet"] for r in rows) / len(rows)
    assert results["scores"]["comet"]["score"] == pytest.approx(mean, abs=1e-5)
    # The same checkpoint loaded directly scores the same text the same way.
    from harness.metrics.neural import load_comet

    direct = load_comet(str(NEURAL / "comet-tiny")).score(
        [r["source"] for r in rows],
        [r["hypothesis"] for r in rows],
        [r["references"][0] for r in rows],
    )
    assert [r["comet"] for r in rows] == pytest.approx(direct.scores, abs=1e-5)
    report = (run / "report.html").read_text(encoding="utf-8")
    assert "COMET" in report and "MetricX-24" in report
    # A rerun takes every segment score from the cache: no new rows.
    db = tmp_path / "cache" / "neural-scores.sqlite"
    before = sqlite3.connect(db).execute("SELECT COUNT(*) FROM segment_scores").fetchone()[0]
    assert before > 0
    assert main(["run", str(config), "-q"]) == 0
    after = sqlite3.connect(db).execute("SELECT COUNT(*) FROM segment_scores").fetchone()[0]
    assert after == before
    again = json.loads((leaf / "results.json").read_text(encoding="utf-8"))
    assert again["scores"]["comet"]["score"] == results["scores"]["comet"]["score"]


def test_score_command_computes_comet_for_existing_outputs(tmp_path, capsys):
    inputs = json.loads((NEURAL / "inputs.json").read_text(encoding="utf-8"))
    rows = [r for r in inputs if r["src"].strip() and r["mt"].strip()]
    src, hyp, ref = (tmp_path / n for n in ("src.en", "hyp.vi", "ref.vi"))
    src.write_text("".join(r["src"].replace("\n", " ") + "\n" for r in rows[:6]))
    hyp.write_text("".join((r["mt"].replace("\n", " ") or "x") + "\n" for r in rows[:6]))
    ref.write_text("".join((r.get("ref") or "y").replace("\n", " ") + "\n" for r in rows[:6]))
    metric = f"chrf,comet={NEURAL / 'comet-tiny'}"
    assert main(["score", "--hyp", str(hyp), "--ref", str(ref), "--metrics", metric]) == 2
    assert "pass --src" in capsys.readouterr().err
    args = ["score", "--src", str(src), "--hyp", str(hyp), "--ref", str(ref), "--metrics", metric]
    assert main([*args, "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    comet = next(s for s in payload["scores"] if s["name"] == "COMET")
    assert comet["signature"].startswith("comet:") and comet["segments"] == 6


def test_score_command_estimates_quality_without_references(tmp_path, capsys):
    """No --ref: CometKiwi scores (as the checkpoint loaded directly does); chrF says it
    needs references and which metrics do not."""
    from harness.metrics.neural import load_comet

    inputs = json.loads((NEURAL / "inputs.json").read_text(encoding="utf-8"))
    rows = [r for r in inputs if r["src"].strip() and r["mt"].strip()][:6]
    src, hyp = tmp_path / "src.en", tmp_path / "hyp.vi"
    src.write_text("".join(r["src"].replace("\n", " ") + "\n" for r in rows))
    hyp.write_text("".join(r["mt"].replace("\n", " ") + "\n" for r in rows))
    base = ["score", "--src", str(src), "--hyp", str(hyp), "--format", "json"]
    assert main([*base, "--metrics", f"chrf,cometkiwi={NEURAL / 'cometkiwi-tiny'}"]) == 2
    err = capsys.readouterr().err
    assert "chrf needs references (--ref FILE)" in err
    assert "cometkiwi, xcomet and metricx can score without them" in err
    assert main([*base, "--metrics", f"cometkiwi={NEURAL / 'cometkiwi-tiny'}"]) == 0
    payload = json.loads(capsys.readouterr().out)
    kiwi = payload["scores"][0] if "scores" in payload else payload
    assert kiwi["name"] == "CometKiwi" and kiwi["segments"] == 6
    assert f"cometkiwi:{NEURAL / 'cometkiwi-tiny'}@" in kiwi["signature"]  # absolute, as in runs
    assert "|nrefs:0|" in kiwi["signature"]
    direct = load_comet(str(NEURAL / "cometkiwi-tiny")).score(
        [r["src"].replace("\n", " ").strip() for r in rows],
        [r["mt"].replace("\n", " ").strip() for r in rows],
    )
    assert kiwi["score"] == pytest.approx(sum(direct.scores) / 6, abs=1e-4)


_RUN = """
import json, sys
from harness.cli import main
code = main(["run", sys.argv[1], "-q"])
print(json.dumps({"code": code, "torch": "torch" in sys.modules}))
"""


def _run_fresh(config: Path) -> dict:
    from test_fast_paths import run_fresh

    return run_fresh(_RUN, str(config))


def _leaf_scores(run: Path) -> tuple[dict, list]:
    leaf = run / "beam" / "itu-wtisd-2021"
    results = json.loads((leaf / "results.json").read_text(encoding="utf-8"))
    scores = {k: (v["score"], v["signature"]) for k, v in results["scores"].items()}
    rows = [json.loads(line) for line in (leaf / "segments.jsonl").read_text().splitlines()]
    return scores, [(r["comet"], r["xcomet"], r["metricx"], r["error_spans"]) for r in rows]


@pytest.mark.slow
def test_fully_cached_rerun_with_neural_metrics_loads_no_model(tmp_path, metricx_model):
    """COMET, xCOMET and MetricX answer a rerun from the segment cache without torch; a
    checkpoint rewritten in place is loaded again."""
    import shutil

    comet = tmp_path / "comet-tiny"
    shutil.copytree(NEURAL / "comet-tiny", comet)
    config = _config(tmp_path, metricx_model)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["metrics"][2]["model"] = str(comet)
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    run = tmp_path / "runs" / "neural"
    first = _run_fresh(config)
    assert first == {"code": 0, "torch": True}
    before = _leaf_scores(run)
    assert _run_fresh(config) == {"code": 0, "torch": False}
    assert _leaf_scores(run) == before  # scores, signatures and error spans
    ckpt = comet / "checkpoints" / "model.ckpt"
    stat = ckpt.stat()
    import os

    os.utime(ckpt, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert _run_fresh(config) == {"code": 0, "torch": True}  # the pin changed: loaded again
    assert _leaf_scores(run) == before


def _one_model_config(tmp_path: Path, metrics: list) -> Path:
    """The trained tiny Marian model on the built-in sample, with these metrics."""
    model = {"name": "m", "model": str(TRAINED), "max_new_tokens": 8}
    return _write_config(tmp_path, [model], metrics, {"bootstrap_resamples": 10})


def test_a_missing_metric_checkpoint_stops_the_run_before_any_translation(
    tmp_path, capsys, monkeypatch
):
    """Seconds, not minutes: a checkpoint folder that is not there, or a hub checkpoint not
    cached while offline, is found before the first model translates anything."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for metric, expected in (
        ({"name": "comet", "model": str(tmp_path / "nowhere")}, "metrics[1] (comet)"),
        ("cometkiwi", "--metrics cometkiwi=/path/to/folder"),
        ({"name": "xcomet", "model": str(NEURAL / "comet-tiny" / "encoder")}, "hparams.yaml"),
    ):
        path = _one_model_config(tmp_path, ["bleu", metric])
        assert main(["run", str(path), "-q"]) == 2
        err = capsys.readouterr().err
        assert expected in err, err
        assert "Traceback" not in err
        cache = tmp_path / "cache" / "translations.sqlite"
        if cache.exists():
            rows = sqlite3.connect(cache).execute("SELECT COUNT(*) FROM translations").fetchone()
            assert rows[0] == 0  # nothing was translated


def test_no_cache_computes_neural_scores_again(tmp_path, capsys):
    path = _one_model_config(tmp_path, [{"name": "comet", "model": str(NEURAL / "comet-tiny")}])
    assert main(["run", str(path), "-q", "--no-cache"]) == 0
    assert not (tmp_path / "cache" / "neural-scores.sqlite").exists()
    assert not (tmp_path / "cache" / "metric-stats.sqlite").exists()
