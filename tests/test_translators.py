"""The HF seq2seq translator on a real tiny Marian model, model resolution and offline errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from translator_cases import SOURCES

from harness.errors import ModelNotFoundError, TranslatorError
from harness.translators import HFModelConfig, build_translator
from harness.translators.loading import folder_fingerprint, resolve_model_source


@pytest.fixture(scope="module")
def marian(tiny_marian: Path):
    cfg = HFModelConfig(model=str(tiny_marian), batch_size=3, max_new_tokens=12)
    return build_translator(cfg, cache_dir=tiny_marian.parent / "cache", progress=False)


def test_translate_one_output_per_input_in_order(marian, tiny_marian: Path) -> None:
    batched = marian.translate(SOURCES)
    # Each source alone (batch of one, no padding) must give the same output at the same place:
    # that proves the length sort was undone, not merely that the count matches.
    single = build_translator(
        HFModelConfig(model=str(tiny_marian), batch_size=1, max_new_tokens=12),
        cache_dir=tiny_marian.parent / "cache",
        progress=False,
    )
    one_by_one = [single.translate([s])[0] for s in SOURCES]
    assert batched == one_by_one
    assert len(set(batched)) > 2, "tiny model should not map every input to one output"


def test_on_batch_reports_every_position_once(marian) -> None:
    calls: list[tuple[list[int], list[str]]] = []
    hyps = marian.translate(SOURCES, on_batch=lambda pos, out: calls.append((pos, out)))
    seen = [p for pos, _ in calls for p in pos]
    assert sorted(seen) == list(range(len(SOURCES)))
    assert all(len(pos) <= 3 for pos, _ in calls)
    for pos, out in calls:
        assert [hyps[p] for p in pos] == out
    # The blank source (position 5) is answered first, without the model; then the longest
    # source first: position 1 is the longest English sentence.
    assert calls[0] == ([5], [""])
    assert calls[1][0][0] == 1
    assert marian.provenance()["throughput"]["blank_sources"] == 1


def test_empty_input_gives_empty_output(marian) -> None:
    assert marian.translate([]) == []


def test_provenance_records_settings_and_throughput(marian, tiny_marian: Path) -> None:
    marian.translate(SOURCES[:3])
    prov = marian.provenance()
    assert prov["backend"] == "hf"
    assert prov["model"] == str(tiny_marian)
    assert prov["revision"] == folder_fingerprint(tiny_marian)
    assert prov["revision"].startswith("sha256:")
    assert prov["source"] == "local"
    assert prov["architecture"] == "MarianMTModel"
    assert prov["device"] == "cpu" and prov["dtype"] == "float32"
    assert prov["preset"]["name"] == "marian"
    assert prov["preset"]["chosen_by"].startswith("auto")
    gen = prov["generation"]
    assert gen["num_beams"] == 1 and gen["max_new_tokens"] == 12 and gen["do_sample"] is False
    assert 200_000 < prov["parameters"] < 400_000
    assert prov["throughput"]["segments"] == 3
    assert prov["throughput"]["segments_per_s"] > 0
    assert prov["throughput"]["output_tokens"] >= 3
    assert "transformers" in prov["versions"]
    json.dumps(prov)  # results.json must be able to hold it as is


def test_beam_search_and_token_budget(tiny_marian: Path) -> None:
    cfg = HFModelConfig(
        model=str(tiny_marian),
        batch_size=8,
        max_tokens_per_batch=40,
        num_beams=3,
        max_new_tokens=6,
    )
    tr = build_translator(cfg, cache_dir=tiny_marian.parent / "cache", progress=False)
    calls: list[list[int]] = []
    hyps = tr.translate(SOURCES, on_batch=lambda pos, out: calls.append(list(pos)))
    assert len(hyps) == len(SOURCES)
    assert len(calls) > 1  # the 40-token budget splits what batch_size 8 would not
    assert tr.provenance()["generation"]["num_beams"] == 3


def test_relative_model_folder_uses_base_dir(tiny_marian: Path) -> None:
    cfg = HFModelConfig(model=tiny_marian.name, max_new_tokens=4)
    tr = build_translator(
        cfg, cache_dir=tiny_marian.parent / "cache", base_dir=tiny_marian.parent, progress=False
    )
    assert len(tr.translate(["Hello."])) == 1


def test_unknown_hub_id_offline_raises_two_line_error(monkeypatch, tmp_path: Path) -> None:
    import huggingface_hub.constants as hub_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    cfg = HFModelConfig(model="made-up-org/no-such-model-en-vi")
    with pytest.raises(ModelNotFoundError) as info:
        build_translator(cfg, cache_dir=tmp_path)
    assert str(info.value).split("\n") == [
        "model 'made-up-org/no-such-model-en-vi' is not in the local cache and the hub is "
        "unreachable",
        "pass a local folder as model: in the config (e.g. one saved with save_pretrained) "
        "or set HF_HOME to a cache that has it",
    ]


def test_missing_local_folder_names_config_key(tmp_path: Path) -> None:
    cfg = HFModelConfig(model=str(tmp_path / "nowhere" / "model"))
    with pytest.raises(TranslatorError, match=r"^models\[2\]\.model: local folder .* does not"):
        build_translator(cfg, cache_dir=tmp_path, config_key="models[2]")


def test_folder_without_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(TranslatorError, match=r"has no config\.json"):
        resolve_model_source(str(tmp_path / "empty"))


def test_cached_hub_snapshot_resolves_to_its_commit(monkeypatch, tmp_path: Path) -> None:
    import huggingface_hub.constants as hub_constants

    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--tiny"
    (repo / "snapshots" / sha).mkdir(parents=True)
    (repo / "snapshots" / sha / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    source = resolve_model_source("someone/tiny")
    assert source.kind == "hub-cache"
    assert source.revision == sha
    assert source.load_path == str(repo / "snapshots" / sha)


@pytest.mark.gpu
def test_gpu_auto_device_and_half_precision(tiny_marian: Path) -> None:
    tr = build_translator(
        HFModelConfig(model=str(tiny_marian), max_new_tokens=8),
        cache_dir=tiny_marian.parent,
        progress=False,
    )
    prov = tr.provenance()
    assert prov["device"] == "cuda" and prov["dtype"] in ("bfloat16", "float16")
    assert len(tr.translate(SOURCES)) == len(SOURCES)
    assert tr.provenance()["throughput"]["peak_memory_kind"] == "cuda_max_allocated"


@pytest.mark.gpu
def test_gpu_ctranslate2_int8_float16(tiny_marian: Path, tmp_path: Path) -> None:
    from harness.translators import CT2ModelConfig

    cfg = CT2ModelConfig(
        backend="ctranslate2",
        model=str(tiny_marian),
        compute_type="int8_float16",
        max_new_tokens=8,
    )
    try:
        tr = build_translator(cfg, cache_dir=tmp_path, progress=False)
    except TranslatorError as e:
        # The ctranslate2 wheel links CUDA 12's cuBLAS; a machine with only CUDA 13's (seen on
        # an H100 here) cannot run it at all, which the build now reports; that is not a bug.
        if "built against CUDA 12" in str(e):
            pytest.skip(str(e))
        raise
    assert tr.provenance()["device"] == "cuda"
    assert len(tr.translate(SOURCES)) == len(SOURCES)


@pytest.mark.slow
def test_torch_compile_gives_the_same_outputs(marian, tiny_marian: Path) -> None:
    cfg = HFModelConfig(model=str(tiny_marian), batch_size=3, max_new_tokens=12, torch_compile=True)
    compiled = build_translator(cfg, cache_dir=tiny_marian.parent / "cache", progress=False)
    assert compiled.translate(SOURCES[:3]) == marian.translate(SOURCES[:3])
    assert compiled.provenance()["torch_compile"] is True
