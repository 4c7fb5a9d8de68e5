"""Progress lines in batch logs (stderr not a terminal): translation and scoring."""

from __future__ import annotations

import logging
import re

import yaml

from harness.cli import main
from harness.metrics import evaluate
from harness.progress import ProgressLog, format_seconds, log_interval
from harness.textnorm import NormalizationSpec


def test_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("HARNESS_PROGRESS_SECONDS", raising=False)
    assert log_interval() == 30.0
    monkeypatch.setenv("HARNESS_PROGRESS_SECONDS", "2.5")
    assert log_interval() == 2.5
    monkeypatch.setenv("HARNESS_PROGRESS_SECONDS", "soon")
    assert log_interval() == 30.0
    assert [format_seconds(s) for s in (5, 75, 4000)] == ["5s", "1m15s", "1h06m"]


def test_a_line_per_update_at_interval_zero(monkeypatch, caplog):
    monkeypatch.setenv("HARNESS_PROGRESS_SECONDS", "0")
    progress = ProgressLog("translating x with m", 10, cached=4)
    with caplog.at_level(logging.INFO, logger="harness.progress"):
        progress.update(3)
        progress.update(3)
    lines = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(
        r"translating x with m: 7/10 segments \(70%, 4 from the cache\), [\d.]+ seg/s, ETA \S+",
        lines[0],
    ), lines[0]
    assert lines[1].startswith("translating x with m: 10/10 segments (100%, 4 from the cache)")
    assert lines[1].endswith("ETA 0s")


def test_a_quick_job_logs_no_progress_lines_at_the_default_interval(monkeypatch, caplog):
    monkeypatch.delenv("HARNESS_PROGRESS_SECONDS", raising=False)
    progress = ProgressLog("scoring", 100)
    with caplog.at_level(logging.INFO, logger="harness.progress"):
        for _ in range(10):
            progress.update(10)  # every 10% step, but all within far less than 3 s
    assert progress.lines == 0 and not caplog.records


def test_chunked_statistics_equal_one_pass(monkeypatch, caplog):
    """Scoring with progress extracts in chunks of 500; the numbers must not move."""
    monkeypatch.setenv("HARNESS_PROGRESS_SECONDS", "0")
    hyps = [f"câu thứ {i} của hệ thống" for i in range(1200)]
    refs = [[f"câu số {i} của hệ thống dịch"] for i in range(1200)]
    spec = NormalizationSpec(tone_marks="hòa")
    args = (hyps, refs, ["bleu", "chrf", "ter"], spec)
    plain = evaluate(*args, bootstrap_resamples=20)
    with caplog.at_level(logging.INFO, logger="harness.progress"):
        logged = evaluate(*args, bootstrap_resamples=20, progress_label="scoring t")
    assert plain.to_json() == logged.to_json()
    for name in plain.stats:
        assert (plain.stats[name] == logged.stats[name]).all()
    last = caplog.records[-1].getMessage()
    assert last.startswith("scoring t: 7200/7200 segment scores (100%)"), last


def test_batch_log_shows_progress_and_cached_counts(tmp_path, tiny_marian, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_PROGRESS_SECONDS", "0")
    config = {
        "name": "p",
        "datasets": ["itu-wtisd-2021"],
        "models": [{"name": "tiny", "model": str(tiny_marian), "batch_size": 2,
                    "max_new_tokens": 8}],
        "metrics": ["bleu", "chrf"],
        "statistics": {"bootstrap_resamples": 0},
        "output_dir": str(tmp_path / "runs"),
    }  # fmt: skip
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["run", str(path)]) == 0  # stderr is captured: not a terminal
    err = capsys.readouterr().err
    start = "translating itu-wtisd-2021 with tiny (5 segments: 0 from the cache, 5 to translate)"
    assert start in err
    progress = re.findall(r"translating itu-wtisd-2021 with tiny: (\d)/5 segments \(\d+%, "
                          r"0 from the cache\), [\d.]+ seg/s, ETA \S+", err)  # fmt: skip
    assert progress == ["2", "4", "5"]  # batches of 2
    assert "scoring itu-wtisd-2021 with tiny: 10/10 segment scores (100%)" in err
    assert main(["run", str(path)]) == 0
    err = capsys.readouterr().err
    assert "(5 segments: 5 from the cache, 0 to translate)" in err
    assert "5/5 segments" not in err  # nothing translated, no translation progress
