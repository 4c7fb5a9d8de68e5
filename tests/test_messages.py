"""Smaller messages a new user needed: config keys for missing files, did-you-mean for a
baseline, and saying so when compare or table leave something out."""

from __future__ import annotations

import yaml

from harness.cli import main


def _config(tmp_path, name, model, datasets, **extra):
    config = {
        "name": name,
        "datasets": datasets,
        "models": [{"name": "a", "model": str(model), "max_new_tokens": 6}],
        "metrics": ["bleu", "chrf"],
        "statistics": {"bootstrap_resamples": 20},
        "output_dir": str(tmp_path / "runs"),
        **extra,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _files(tmp_path):
    (tmp_path / "t.en").write_text("Hello.\nThank you.\n", encoding="utf-8")
    (tmp_path / "t.vi").write_text("Xin chào.\nCảm ơn.\n", encoding="utf-8")
    return {"kind": "files", "source": "t.en", "references": ["t.vi", "t2.vi"]}


def test_a_missing_file_names_its_config_key(tmp_path, capsys):
    path = _config(tmp_path, "m", "./unused", ["itu-wtisd-2021", _files(tmp_path)])
    (tmp_path / "unused").mkdir()
    (tmp_path / "unused" / "config.json").write_text("{}", encoding="utf-8")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert (
        f"error: datasets[1].references[1]: {tmp_path / 't2.vi'}: not found (relative paths "
        f"are taken from the config file's folder, {tmp_path})"
    ) in err


def test_a_baseline_typo_gets_a_did_you_mean(tmp_path, capsys):
    path = _config(tmp_path, "b", "m1", ["itu-wtisd-2021"])
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["models"].append({"name": "b", "model": "m2"})
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["run", str(path), "--baseline", "A"]) == 2
    err = capsys.readouterr().err
    assert "statistics.baseline 'A' is not a model name (a, b); did you mean 'a'?" in err


def test_compare_and_table_say_what_they_leave_out(tmp_path, tiny_marian, capsys):
    both = _config(tmp_path, "r1", tiny_marian, ["itu-wtisd-2021", _files(tmp_path)])
    config = yaml.safe_load(both.read_text(encoding="utf-8"))
    config["datasets"][1]["references"] = ["t.vi"]
    both.write_text(yaml.safe_dump(config), encoding="utf-8")
    one = _config(tmp_path, "r2", tiny_marian, ["itu-wtisd-2021"])
    config = yaml.safe_load(one.read_text(encoding="utf-8"))
    config["models"][0]["name"] = "b"
    one.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["run", str(both)]) == 0 and main(["run", str(one)]) == 0
    capsys.readouterr()
    runs = tmp_path / "runs"
    assert main(["compare", str(runs / "r1"), str(runs / "r2"), "--format", "csv"]) == 0
    err = capsys.readouterr().err
    assert "WARNING: not compared: t: only a has results (one system only)" in err
    (runs / "r1" / "summary.json").unlink()
    assert main(["table", str(runs / "r1")]) == 0
    err = capsys.readouterr().err
    assert f"WARNING: {runs / 'r1'} has no summary.json (the run did not finish?)" in err


def test_demo_offline_points_at_the_smoke_config(tmp_path):
    """scripts/demo in a copy of the repository whose .venv is this interpreter's: offline,
    the quickstart's hub model is missing and the last line says what runs without a hub."""
    import hashlib
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    root = tmp_path / "clone"
    for part in ("scripts/demo", "scripts/_venv.sh", "configs/quickstart.yaml",
                 "pyproject.toml", "constraints.txt"):  # fmt: skip
        (root / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / part, root / part)
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    (bin_dir / "harness").write_text(
        f'#!/bin/sh\nPYTHONPATH="{repo}" exec "{sys.executable}" -m harness "$@"\n',
        encoding="utf-8",
    )
    (bin_dir / "harness").chmod(0o755)
    blob = (root / "pyproject.toml").read_bytes() + (root / "constraints.txt").read_bytes()
    stamp = hashlib.sha256(blob).hexdigest()[:16]  # what _venv.sh compares: pip is skipped
    (root / ".venv" / ".harness-install-stamp").write_text(stamp + "\n", encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    run = subprocess.run(
        ["bash", str(root / "scripts" / "demo")], capture_output=True, text=True, env=env
    )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert "is not in the local cache and the hub is unreachable" in lines[-3]
    assert lines[-1] == (
        "with no hub, see the whole pipeline run on a tiny local model: "
        "scripts/demo configs/smoke.yaml"
    )


def test_bench_compare_says_where_its_data_comes_from(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "bench_compare.py"
    run = subprocess.run(
        [sys.executable, str(script), "--data", str(tmp_path)], capture_output=True, text=True
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert f"NTREX-128 not found in {tmp_path}" in run.stderr
    assert "https://github.com/MicrosoftTranslator/NTREX" in run.stderr
