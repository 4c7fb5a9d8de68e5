"""End-to-end: `main(argv)` in-process, a real tiny Marian model, the bundled sample."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from harness.cli import main


def write_config(tmp_path: Path, model: Path | str, **extra) -> Path:
    config = {
        "name": "e2e",
        "datasets": ["itu-wtisd-2021"],
        "models": [{"name": "tiny", "model": str(model), "batch_size": 4, "max_new_tokens": 12}],
        "metrics": ["bleu", "chrf", "chrf++", "ter"],
        "statistics": {"bootstrap_resamples": 50},
        "output_dir": str(tmp_path / "runs"),
        **extra,
    }
    path = tmp_path / "config.yaml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_version_and_usage_errors(capsys):
    assert main(["--version"]) == 0
    assert main([]) == 2
    assert main(["run"]) == 2
    assert "the following arguments are required: config" in capsys.readouterr().err


def test_bad_config_exits_2_naming_the_key(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\ndatasets: [itu-wtisd-2021]\nmodels: [{model: m, beams: 2}]\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "unknown key models[0].beams" in err and "Traceback" not in err


def test_missing_model_offline_is_two_clean_lines(tmp_path, capsys):
    path = write_config(tmp_path, "no-such-org/no-such-model-xyz")
    assert main(["run", str(path)]) == 2
    err_lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    error_at = next(i for i, line in enumerate(err_lines) if line.startswith("error: "))
    assert err_lines[error_at:] == [
        "error: model 'no-such-org/no-such-model-xyz' is not in the local cache and the hub is "
        "unreachable",
        err_lines[error_at + 1],
    ]
    assert "HF_HOME" in err_lines[error_at + 1]
    assert "Traceback" not in "\n".join(err_lines)


def test_run_writes_the_run_folder_and_prints_the_table(tmp_path, tiny_marian, capsys):
    path = write_config(tmp_path, tiny_marian)
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| model | itu-wtisd-2021 BLEU | itu-wtisd-2021 chrF |")
    run = tmp_path / "runs" / "e2e"
    leaf = run / "tiny" / "itu-wtisd-2021"
    assert yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))["name"] == "e2e"
    results = json.loads((leaf / "results.json").read_text(encoding="utf-8"))
    segments = read_jsonl(leaf / "segments.jsonl")
    hypotheses = (leaf / "hypotheses.txt").read_text(encoding="utf-8").splitlines()
    n = results["dataset"]["segments"]
    assert n == len(segments) == len(hypotheses) == 5  # the sample has 5 paragraph pairs
    assert [s["hypothesis"] for s in segments] == hypotheses
    assert set(segments[0]) == {"id", "source", "references", "hypothesis", "chrf", "flags"}
    assert set(results["scores"]) == {"bleu", "chrf", "chrf++", "ter"}
    bleu = results["scores"]["bleu"]
    assert bleu["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert bleu["signature"].endswith("|textnorm:nfc")
    assert len(results["dataset"]["fingerprint"]) == 64
    model = results["model"]
    for key in ("revision", "parameters", "device", "dtype"):
        assert model.get(key) is not None, key
    assert results["environment"]["packages"]["sacrebleu"]
    assert results["timing"]["translated_segments"] == n
    assert results["timing"]["segments_per_second"] > 0
    assert (leaf / "stats.npz").is_file()


def test_rerun_comes_from_the_cache_with_identical_output(tmp_path, tiny_marian):
    path = write_config(tmp_path, tiny_marian)
    leaf = tmp_path / "runs" / "e2e" / "tiny" / "itu-wtisd-2021"
    assert main(["run", str(path)]) == 0
    first = (leaf / "hypotheses.txt").read_text(encoding="utf-8")
    assert main(["run", str(path)]) == 0
    results = json.loads((leaf / "results.json").read_text(encoding="utf-8"))
    assert results["timing"]["translated_segments"] == 0
    assert results["timing"]["cached_segments"] == results["dataset"]["segments"]
    assert results["model"]["parameters"]  # provenance survives a fully cached run
    assert (leaf / "hypotheses.txt").read_text(encoding="utf-8") == first
    assert main(["run", str(path), "--no-cache"]) == 0
    results = json.loads((leaf / "results.json").read_text(encoding="utf-8"))
    assert results["timing"]["cached_segments"] == 0


def test_interrupted_run_resumes_and_loses_nothing(tmp_path, tiny_marian, monkeypatch):
    """Interrupt after the first batch (as Ctrl-C would); the rerun translates only the rest."""
    import harness.translators as translators

    path = write_config(tmp_path, tiny_marian)
    real_build = translators.build_translator

    def interrupting_build(*args, **kwargs):
        translator = real_build(*args, **kwargs)
        real_translate = translator.translate

        def translate(sources, on_batch=None):
            def stop_after_first(positions, outputs):
                on_batch(positions, outputs)
                raise KeyboardInterrupt

            return real_translate(sources, on_batch=stop_after_first)

        translator.translate = translate
        return translator

    monkeypatch.setattr(translators, "build_translator", interrupting_build)
    assert main(["run", str(path)]) == 130
    monkeypatch.setattr(translators, "build_translator", real_build)
    assert main(["run", str(path)]) == 0
    leaf = tmp_path / "runs" / "e2e" / "tiny" / "itu-wtisd-2021"
    timing = json.loads((leaf / "results.json").read_text(encoding="utf-8"))["timing"]
    assert timing["cached_segments"] > 0 and timing["translated_segments"] > 0
    resumed = (leaf / "hypotheses.txt").read_text(encoding="utf-8")
    assert main(["run", str(path), "--no-cache"]) == 0
    assert (leaf / "hypotheses.txt").read_text(encoding="utf-8") == resumed


def test_table_command_formats(tmp_path, tiny_marian, capsys):
    path = write_config(tmp_path, tiny_marian)
    assert main(["run", str(path), "-q"]) == 0
    capsys.readouterr()
    run = tmp_path / "runs" / "e2e"
    assert main(["table", str(run), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "model,dataset,variant,metric,score,plus_minus,p_value,signature"
    assert len(lines) == 1 + 4
    assert main(["table", str(tmp_path / "nowhere")]) == 2


def test_datasets_list_and_show(capsys):
    assert main(["datasets"]) == 0
    listing = capsys.readouterr().out
    for name in ("itu-wtisd-2021", "iwslt15-en-vi", "flores200", "opus100", "ntrex128", "phomt"):
        assert name in listing
    assert main(["datasets", "show", "itu-wtisd-2021", "--limit", "3"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert len(rows) == 3 and set(rows[0]) == {"id", "source", "references"}
    assert "could not be paired" in captured.err


def test_two_models_against_a_baseline(tmp_path, tiny_marian, capsys):
    """p-values land in results.json and markers in the table; the baseline gets none."""
    from harness.devtools.tiny_models import build_tiny_marian

    other = build_tiny_marian(tmp_path / "other", seed=1)
    path = write_config(tmp_path, tiny_marian)
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["models"].append({"name": "tiny2", "model": str(other), "max_new_tokens": 12})
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    assert main(["run", str(path), "--baseline", "tiny", "-q"]) == 0
    out = capsys.readouterr().out
    assert "differs from the baseline (tiny)" in out
    run = tmp_path / "runs" / "e2e"
    base = json.loads((run / "tiny" / "itu-wtisd-2021" / "results.json").read_text())
    other_results = json.loads((run / "tiny2" / "itu-wtisd-2021" / "results.json").read_text())
    assert base["significance"]["is_baseline"] is True
    assert base["significance"]["metrics"]["bleu"]["p_bootstrap"] is None
    tests = other_results["significance"]["metrics"]
    assert set(tests) == {"bleu", "chrf", "chrf++", "ter"}
    for metric in tests.values():
        assert 0 < metric["p_bootstrap"] <= 1 and 0 < metric["p_ar"] <= 1
    assert (run / "comparison.md").read_text().startswith("### itu-wtisd-2021")
    assert main(["run", str(path), "--baseline", "nope"]) == 2


def test_tone_normalization_reports_raw_score_beside_it(tmp_path, tiny_marian, capsys):
    path = write_config(tmp_path, tiny_marian, normalize={"tone_marks": "hòa"})
    assert main(["run", str(path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "textnorm:nfc+tone:hòa" in out
    leaf = tmp_path / "runs" / "e2e" / "tiny" / "itu-wtisd-2021"
    bleu = json.loads((leaf / "results.json").read_text(encoding="utf-8"))["scores"]["bleu"]
    # The table shows "(raw x)" only where the raw score reads differently.
    differs = f"{bleu['raw_score']:.1f}" != f"{bleu['score']:.1f}"
    assert ("(raw " in out) == differs
    assert bleu["signature"].endswith("|textnorm:nfc+tone:hòa")
    assert bleu["raw_signature"].endswith("|textnorm:nfc")
    assert "raw_score" in bleu


TRAINED = Path(__file__).resolve().parent / "fixtures" / "models" / "tiny-marian-en-vi-trained"


def test_both_backends_score_a_model_that_really_translates(tmp_path, capsys):
    """A tiny model trained on template pairs, run end to end on 40 of its own pairs through
    each backend: real scores near 100, and the same hypotheses from both."""
    from harness.devtools.tiny_train import training_pairs

    pairs = training_pairs()[::8][:40]
    (tmp_path / "test.en").write_text("".join(en + "\n" for en, _ in pairs), encoding="utf-8")
    (tmp_path / "test.vi").write_text("".join(vi + "\n" for _, vi in pairs), encoding="utf-8")
    config = {
        "name": "trained",
        "datasets": [
            {"kind": "files", "name": "templates", "source": "test.en", "references": ["test.vi"]}
        ],
        "models": [
            {"name": "hf", "model": str(TRAINED), "max_new_tokens": 32},
            {
                "name": "ct2",
                "model": str(TRAINED),
                "backend": "ctranslate2",
                "compute_type": "float32",
                "max_new_tokens": 32,
            },
        ],
        "statistics": {"bootstrap_resamples": 100, "baseline": "hf"},
        "output_dir": str(tmp_path / "runs"),
    }
    path = tmp_path / "trained.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    assert main(["run", str(path), "-q"]) == 0
    capsys.readouterr()
    run = tmp_path / "runs" / "trained"
    outputs = {}
    for model in ("hf", "ct2"):
        leaf = run / model / "templates"
        results = json.loads((leaf / "results.json").read_text(encoding="utf-8"))
        assert results["scores"]["bleu"]["score"] > 95, model
        assert results["scores"]["chrf"]["score"] > 95, model
        assert results["model"]["backend"] == model.replace("ct2", "ctranslate2")
        outputs[model] = (leaf / "hypotheses.txt").read_text(encoding="utf-8")
    assert outputs["hf"] == outputs["ct2"]
    assert outputs["hf"].splitlines()[0] == pairs[0][1]
    significance = json.loads((run / "ct2" / "templates" / "results.json").read_text())
    assert significance["significance"]["metrics"]["bleu"]["p_bootstrap"] == 1.0  # identical


def test_reusing_a_run_name_shows_only_the_last_run(tmp_path, tiny_marian, capsys):
    path = write_config(tmp_path, tiny_marian)
    assert main(["run", str(path), "-q"]) == 0
    assert main(["run", str(path), "-q", "--set", "models.0.name=renamed"]) == 0
    capsys.readouterr()
    run = tmp_path / "runs" / "e2e"
    assert (run / "tiny").is_dir()  # left behind, not deleted
    assert main(["table", str(run), "--format", "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert {row.split(",")[0] for row in rows} == {"renamed"}
    results = json.loads((run / "renamed" / "itu-wtisd-2021" / "results.json").read_text())
    assert results["model"]["name"] == "renamed"  # not the cached provenance's old name
    assert results["timing"]["cached_segments"] == 5
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "renamed" in page and "<svg" in page


def test_a_missing_model_fails_before_any_model_runs(tmp_path, tiny_marian, capsys):
    path = write_config(tmp_path, tiny_marian)
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["models"].append({"model": "no-such-org/missing-model"})
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["run", str(path)]) == 2
    assert "'no-such-org/missing-model' is not in the local cache" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "e2e").exists()  # nothing translated, nothing written


def test_device_typo_is_a_config_error(tmp_path, capsys):
    path = write_config(tmp_path, "whatever", models=[{"model": "m", "device": "gpu"}])
    assert main(["run", str(path)]) == 2
    assert "models[0].device" in capsys.readouterr().err


def test_a_new_hub_snapshot_is_not_served_old_translations(tmp_path, tiny_marian, monkeypatch):
    """Cached translations are keyed by the snapshot sha: when `main` moves, translate again."""
    import shutil

    import huggingface_hub.constants as hub_constants

    repo = tmp_path / "hub" / "models--someone--tiny"
    (repo / "refs").mkdir(parents=True)

    def publish(sha: str) -> None:
        shutil.copytree(tiny_marian, repo / "snapshots" / sha)
        (repo / "refs" / "main").write_text(sha)

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    publish("a" * 40)
    path = write_config(tmp_path, "someone/tiny")
    leaf = tmp_path / "runs" / "e2e" / "tiny" / "itu-wtisd-2021"

    def run() -> dict:
        assert main(["run", str(path), "-q"]) == 0
        return json.loads((leaf / "results.json").read_text(encoding="utf-8"))

    first = run()
    assert first["model"]["revision"] == "a" * 40
    assert first["timing"]["translated_segments"] == 5
    assert run()["timing"]["cached_segments"] == 5
    publish("b" * 40)
    moved = run()
    assert moved["model"]["revision"] == "b" * 40
    assert moved["timing"]["translated_segments"] == 5


def test_few_shot_examples_are_part_of_the_cache_key(tmp_path, capsys):
    """Edited few-shot examples make new prompts, so new translations; examples that overlap
    the test set are refused with the config key, before anything runs."""
    from harness.devtools.tiny_families import build_tiny_llama

    model = build_tiny_llama(tmp_path / "llama")
    test = ["Hello.", "Good morning.", "Thank you."]
    (tmp_path / "t.en").write_text("".join(s + "\n" for s in test), encoding="utf-8")
    (tmp_path / "t.vi").write_text("Xin chào.\nChào buổi sáng.\nCảm ơn.\n", encoding="utf-8")

    def few_shot(pairs):
        (tmp_path / "fs.en").write_text("".join(en + "\n" for en, _ in pairs), encoding="utf-8")
        (tmp_path / "fs.vi").write_text("".join(vi + "\n" for _, vi in pairs), encoding="utf-8")

    config = {
        "name": "fs",
        "datasets": [{"kind": "files", "name": "t", "source": "t.en", "references": ["t.vi"]}],
        "models": [
            {
                "name": "llm",
                "model": str(model),
                "max_new_tokens": 6,
                "prompt": {
                    "few_shot": {
                        "dataset": {"kind": "files", "source": "fs.en", "references": ["fs.vi"]},
                        "n": 2,
                    }
                },
            }
        ],
        "statistics": {"bootstrap_resamples": 0},
        "output_dir": str(tmp_path / "runs"),
    }
    path = tmp_path / "fs.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    leaf = tmp_path / "runs" / "fs" / "llm" / "t" / "results.json"
    few_shot([("Yes.", "Vâng."), ("No.", "Không.")])
    assert main(["run", str(path), "-q"]) == 0
    assert json.loads(leaf.read_text())["timing"]["translated_segments"] == 3
    assert main(["run", str(path), "-q"]) == 0
    assert json.loads(leaf.read_text())["timing"]["cached_segments"] == 3
    few_shot([("Goodbye.", "Tạm biệt."), ("Please.", "Làm ơn.")])
    assert main(["run", str(path), "-q"]) == 0
    assert json.loads(leaf.read_text())["timing"]["translated_segments"] == 3
    capsys.readouterr()
    few_shot([("Thank you.", "Cảm ơn."), ("No.", "Không.")])
    assert main(["run", str(path), "-q"]) == 2
    err = capsys.readouterr().err
    assert "models[0].prompt.few_shot: example 0 has the same source as test segment 2" in err
