"""The translator identity: what keys the translation cache and what results.json records."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import write_config

from harness.cli import main
from harness.translators import HFModelConfig, IdentityContext, translator_identity
from harness.translators.config import CT2ModelConfig


def identity(cfg, tmp_path: Path, **context):
    context = IdentityContext(base_dir=tmp_path, config_key="models[0]", **context)
    return translator_identity(cfg, context)


def test_speed_settings_leave_the_key_and_output_settings_change_it(tiny_marian, tmp_path):
    cpu = HFModelConfig(model=str(tiny_marian), device="cpu")
    key = identity(cpu, tmp_path).key
    assert identity(HFModelConfig(model=str(tiny_marian)), tmp_path).key == key  # auto = cpu here
    assert identity(cpu.model_copy(update={"batch_size": 64, "name": "x"}), tmp_path).key == key
    assert identity(cpu.model_copy(update={"num_beams": 4}), tmp_path).key != key
    assert identity(cpu.model_copy(update={"dtype": "bfloat16"}), tmp_path).key != key
    gpu0, gpu1 = (
        cpu.model_copy(update={"device": d, "dtype": "float16"}) for d in ("cuda:0", "cuda:1")
    )
    assert identity(gpu0, tmp_path).key == identity(gpu1, tmp_path).key  # the index does not matter
    assert (
        identity(gpu0, tmp_path).key
        != identity(cpu.model_copy(update={"dtype": "float16"}), tmp_path).key
    )


def test_identity_states_preset_versions_and_weights(tiny_marian, tmp_path):
    fields = identity(HFModelConfig(model=str(tiny_marian)), tmp_path).to_json()
    assert fields["backend"] == "hf" and fields["model"] == str(tiny_marian)
    assert fields["weights"]["sha256"].startswith("sha256:")
    assert fields["preset"]["name"] == "marian" and "chosen_by" not in fields["preset"]
    assert fields["runtime"] == {"device_kind": "cpu", "dtype": "float32"}
    versions = fields["versions"]
    libraries = ("harness", "transformers", "tokenizers", "sentencepiece", "torch", "sacremoses")
    for library in libraries:
        assert versions[library], library
    ct2 = identity(CT2ModelConfig(model=str(tiny_marian), backend="ctranslate2"), tmp_path)
    assert "ctranslate2" in ct2.fields["versions"] and "torch" not in ct2.fields["versions"]
    runtime = ct2.fields["runtime"]
    assert runtime["device_kind"] == "cpu" and runtime["compute_type"] == "int8" and runtime["cpu"]


def test_harness_version_is_part_of_the_key(tiny_marian, tmp_path, monkeypatch):
    cfg = HFModelConfig(model=str(tiny_marian))
    before = identity(cfg, tmp_path).key
    monkeypatch.setattr("harness.__version__", "99.0.0")
    assert identity(cfg, tmp_path).key != before


@pytest.mark.parametrize(
    "change",
    ["chat_template.jinja", "tokenizer/extra.json", "vocab.tiktoken", "model.safetensors"],
)
def test_every_file_of_a_local_model_pins_it(tiny_marian, tmp_path, change):
    """Bug: only some top-level suffixes were hashed, so a new chat template, a file in a
    subfolder or a .tiktoken file left the recorded revision (and the key) unchanged."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_marian, folder)
    cfg = HFModelConfig(model=str(folder))
    before = identity(cfg, tmp_path).fields["weights"]["sha256"]
    path = folder / change
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as handle:
        handle.write(b"\n{# changed #}\n")
    assert identity(cfg, tmp_path).fields["weights"]["sha256"] != before
    (folder / ".cache").mkdir()  # hidden metadata (hf download --local-dir) is not the model
    (folder / ".cache" / "x.lock").write_text("now")
    after = identity(cfg, tmp_path).fields["weights"]["sha256"]
    assert identity(cfg, tmp_path).fields["weights"]["sha256"] == after


def test_resolved_preset_is_remembered_and_needs_no_tokenizer_then(tiny_marian, tmp_path):
    memo: dict[tuple[str, str], dict] = {}
    calls = []

    def remember(kind, key, compute):
        if (kind, key) not in memo:
            calls.append(kind)
            memo[(kind, key)] = compute()
        return memo[(kind, key)]

    cfg = HFModelConfig(model=str(tiny_marian))
    first = identity(cfg, tmp_path, memo=remember)
    second = identity(cfg, tmp_path, memo=remember)
    assert first.key == second.key and calls == ["preset"]
    # Seen from a fresh process: with the preset remembered, stating the identity of a local
    # model on a machine without a GPU imports neither torch nor transformers.
    memo_file = tmp_path / "memo.json"
    memo_file.write_text(json.dumps([[k, v] for k, v in memo.items()]), encoding="utf-8")
    code = f"""
import json, sys
from pathlib import Path
from harness.translators import HFModelConfig, IdentityContext, translator_identity
memo = {{tuple(k): v for k, v in json.loads(Path({str(memo_file)!r}).read_text())}}
ctx = IdentityContext(Path("."), "m", memo=lambda kind, key, f: memo[(kind, key)])
key = translator_identity(HFModelConfig(model={str(tiny_marian)!r}), ctx).key
print(key, "torch" in sys.modules, "transformers" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [first.key, "False", "False"]


def _translated(run_dir: Path) -> int:
    results = json.loads(next(run_dir.rglob("results.json")).read_text(encoding="utf-8"))
    return int(results["timing"]["translated_segments"])


def test_a_new_harness_version_translates_again(tiny_marian, tmp_path, monkeypatch, capsys):
    """Bug: the key held no harness version, so a release that fixed a preset was served the
    previous release's hypotheses."""
    config = write_config(tmp_path, tiny_marian)
    run_dir = tmp_path / "runs" / "e2e"
    assert main(["run", str(config), "-q"]) == 0
    assert _translated(run_dir) == 5
    assert main(["run", str(config), "-q"]) == 0
    assert _translated(run_dir) == 0  # the same version reuses everything
    monkeypatch.setattr("harness.__version__", "99.0.0")
    assert main(["run", str(config), "-q"]) == 0
    assert _translated(run_dir) == 5
    results = json.loads(next(run_dir.rglob("results.json")).read_text(encoding="utf-8"))
    assert results["model"]["identity"]["versions"]["harness"] == "99.0.0"
    assert len(results["model"]["identity_key"]) == 32
