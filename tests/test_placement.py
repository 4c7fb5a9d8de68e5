"""``device_map: auto`` (accelerate) and ``quantization: 8bit | 4bit`` (bitsandbytes): checked
in the config everywhere, refused with the reason on a CPU, run on a GPU (tests marked gpu)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml
from translator_cases import SOURCES

from harness.cli import main
from harness.config import validate_config
from harness.distributed import Rank, gpus_for
from harness.errors import ConfigError
from harness.translators import HFModelConfig, build_translator
from harness.translators.identity import identity_key, output_settings

TRAINED = Path(__file__).resolve().parent / "fixtures" / "models" / "tiny-marian-en-vi-trained"


def _model_error(**model) -> str:
    data = {"name": "x", "datasets": ["itu-wtisd-2021"], "models": [{"model": "m", **model}]}
    with pytest.raises(ConfigError) as info:
        validate_config(data)
    return str(info.value)


def test_config_says_why_placement_settings_cannot_apply():
    assert "runs bitsandbytes kernels on CUDA GPUs and device is cpu" in _model_error(
        device="cpu", quantization="8bit"
    )
    assert "device: cuda:1 cannot apply" in _model_error(device="cuda:1", device_map="auto")
    assert "device: cpu cannot apply" in _model_error(device="cpu", device_map="auto")
    ct2 = {"backend": "ctranslate2"}
    assert "quantizes with compute_type: int8" in _model_error(**ct2, quantization="8bit")
    assert "is for backend: hf" in _model_error(**ct2, device_map="auto")
    assert "models[0].quantization" in _model_error(quantization="2bit")
    assert "torch_compile" in _model_error(quantization="4bit", torch_compile=True)


def test_placement_settings_are_part_of_the_cache_key():
    keys = {
        identity_key(output_settings(HFModelConfig(model="m", **change)))
        for change in (
            {},
            {"quantization": "8bit"},
            {"quantization": "4bit"},
            {"device_map": "auto"},
        )
    }
    assert len(keys) == 4


def test_each_process_on_a_node_spreads_over_its_own_gpus():
    assert gpus_for(None, 4) == [0, 1, 2, 3]
    two = [gpus_for(Rank(rank=r, world=4, local_rank=r % 2, local_world=2), 8) for r in range(2)]
    assert two == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert gpus_for(Rank(rank=3, world=4, local_rank=3, local_world=4), 2) == []


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
@pytest.mark.parametrize("setting", ["models.0.device_map=auto", "models.0.quantization=4bit"])
def test_on_a_cpu_the_run_fails_in_two_lines_saying_why(tmp_path, capsys, setting):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    config = {
        "name": "p",
        "datasets": ["itu-wtisd-2021"],
        "models": [{"name": "m", "model": str(TRAINED)}],
        "output_dir": str(tmp_path / "runs"),
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["run", str(path), "-q", "--set", setting]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    err = err[next(i for i, line in enumerate(err) if line.startswith("error: ")) :]
    asked = setting.removeprefix("models.0.").replace("=", ": ")
    assert err == [
        f"error: models[0]: {asked} needs CUDA GPUs and torch sees none",
        "run it on a GPU machine, or drop it from the config to run on this CPU",
    ]


@pytest.mark.gpu
def test_gpu_device_map_auto_gives_the_single_device_outputs(tiny_family) -> None:
    folder = tiny_family("llama-chat")
    common = {"model": str(folder), "max_new_tokens": 8, "dtype": "float32"}
    one = build_translator(HFModelConfig(**common, device="cuda"), cache_dir=folder.parent)
    spread = build_translator(HFModelConfig(**common, device_map="auto"), cache_dir=folder.parent)
    assert spread.provenance()["device_map"]  # accelerate placed it
    assert spread.translate(SOURCES) == one.translate(SOURCES)


@pytest.mark.gpu
@pytest.mark.parametrize("bits", ["8bit", "4bit"])
def test_gpu_quantized_llm_translates(tiny_family, bits) -> None:
    if importlib.util.find_spec("bitsandbytes") is None:
        pytest.skip("bitsandbytes is not installed")
    folder = tiny_family("llama-chat")
    cfg = HFModelConfig(model=str(folder), max_new_tokens=8, quantization=bits)
    tr = build_translator(cfg, cache_dir=folder.parent)
    assert tr.provenance()["quantization"] == bits
    assert len(tr.translate(SOURCES)) == len(SOURCES)
