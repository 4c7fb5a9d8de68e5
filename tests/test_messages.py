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
