"""The same end-to-end checks on both backends, HF/CT2 agreement per family, the CT2 cache."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from translator_cases import SEQ2SEQ_FAMILIES, SOURCES

from harness.translators import CT2ModelConfig, HFModelConfig, build_translator
from harness.translators.ct2 import MARKER, converted_dir
from harness.translators.loading import folder_fingerprint, load_parts, resolve_model_source
from harness.translators.torch_free import JsonModelConfig, load_parts_without_torch


@pytest.fixture(scope="session")
def family_model(tiny_family: Callable[[str], Path]) -> Callable[[str], Path]:
    return tiny_family


@pytest.fixture(scope="module")
def ct2_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ct2-cache")


def _make(backend: str, model: Path, cache: Path, **kw: Any) -> Any:
    kw.setdefault("max_new_tokens", 10)
    if backend == "hf":
        cfg: Any = HFModelConfig(model=str(model), **kw)
    else:
        kw.setdefault("compute_type", "float32")
        cfg = CT2ModelConfig(backend="ctranslate2", model=str(model), **kw)
    return build_translator(cfg, cache_dir=cache, progress=False)


@pytest.mark.parametrize("backend", ["hf", "ctranslate2"])
def test_order_batches_and_provenance(backend, tiny_marian: Path, ct2_cache: Path) -> None:
    tr = _make(backend, tiny_marian, ct2_cache, batch_size=3)
    calls: list[tuple[list[int], list[str]]] = []
    hyps = tr.translate(SOURCES, on_batch=lambda pos, out: calls.append((list(pos), list(out))))
    single = _make(backend, tiny_marian, ct2_cache, batch_size=1)
    assert hyps == [single.translate([s])[0] for s in SOURCES]
    assert len(set(hyps)) > 2
    assert sorted(p for pos, _ in calls for p in pos) == list(range(len(SOURCES)))
    assert all(len(pos) <= 3 for pos, _ in calls)
    assert calls[0] == ([5], [""]) and calls[1][0][0] == 1  # blank first, then longest
    for pos, out in calls:
        assert [hyps[p] for p in pos] == out
    prov = tr.provenance()
    assert prov["backend"] == backend
    assert prov["revision"] == folder_fingerprint(tiny_marian)
    assert prov["preset"]["name"] == "marian"
    assert prov["throughput"]["segments"] == len(SOURCES)
    assert prov["throughput"]["tokens_per_s"] > 0
    json.dumps(prov)
    assert tr.translate([]) == []


@pytest.mark.parametrize("family", sorted(SEQ2SEQ_FAMILIES))
@pytest.mark.parametrize("beams", [1, 3])
def test_ctranslate2_matches_transformers(family, beams, family_model, ct2_cache) -> None:
    """Same preset, same model, float32 on both sides: identical outputs."""
    model = family_model(family)
    hf = _make("hf", model, ct2_cache, num_beams=beams, batch_size=4)
    ct2 = _make("ctranslate2", model, ct2_cache, num_beams=beams, batch_size=4)
    assert ct2.preset == hf.preset
    assert ct2.translate(SOURCES) == hf.translate(SOURCES)


@pytest.mark.parametrize("family", sorted(SEQ2SEQ_FAMILIES))
def test_torch_free_parts_equal_autotokenizer_parts(family, family_model, tmp_path) -> None:
    """The tokenizer class AutoTokenizer chose, remembered, loads the same tokenizer; the
    config fields read from config.json are the config object's."""
    model = family_model(family)
    cfg = CT2ModelConfig(backend="ctranslate2", model=str(model))
    source = resolve_model_source(str(model))
    first = load_parts_without_torch(cfg, source, tmp_path)  # learns the class
    assert not isinstance(first.config, JsonModelConfig)
    assert (tmp_path / "tokenizer-classes.json").is_file()
    light = load_parts_without_torch(cfg, source, tmp_path)
    reference = load_parts(cfg, source)
    assert isinstance(light.config, JsonModelConfig)
    assert type(light.tokenizer) is type(reference.tokenizer)
    assert light.preset == reference.preset
    for field in ("model_type", "is_encoder_decoder", "max_position_embeddings"):
        assert getattr(light.config, field, None) == getattr(reference.config, field, None), field
    assert light.tokenizer.get_vocab() == reference.tokenizer.get_vocab()
    assert light.tokenizer.all_special_tokens == reference.tokenizer.all_special_tokens
    assert light.tokenizer.model_max_length == reference.tokenizer.model_max_length
    assert light.tokenizer(SOURCES)["input_ids"] == reference.tokenizer(SOURCES)["input_ids"]
    assert light.config.vocab_size == reference.config.vocab_size  # beyond config.json's few


def test_torch_free_store_damaged_or_stale_falls_back(tiny_marian: Path, tmp_path: Path) -> None:
    cfg = CT2ModelConfig(backend="ctranslate2", model=str(tiny_marian))
    source = resolve_model_source(str(tiny_marian))
    store = tmp_path / "tokenizer-classes.json"
    store.write_text("{not json", encoding="utf-8")
    parts = load_parts_without_torch(cfg, source, tmp_path)  # warns, loads as before
    assert not isinstance(parts.config, JsonModelConfig)
    key = next(iter(json.loads(store.read_text())))
    store.write_text(json.dumps({key: "transformers.NoSuchTokenizer"}), encoding="utf-8")
    parts = load_parts_without_torch(cfg, source, tmp_path)
    assert type(parts.tokenizer).__name__ == "MarianTokenizer"


def test_ct2_cache_folder_is_keyed_and_reused(tiny_marian: Path, tmp_path: Path) -> None:
    first = _make("ctranslate2", tiny_marian, tmp_path, compute_type="int8")
    source = resolve_model_source(str(tiny_marian))
    expected = converted_dir(tmp_path, source, "int8")
    rev = folder_fingerprint(tiny_marian).removeprefix("sha256:")[:16]
    assert expected.parent == tmp_path / "ct2"
    # ...-<weights>-<compute type>-<converter versions>: another converter, another folder.
    assert f"-{rev}-int8-" in expected.name
    assert first.path == expected and first.converted_now
    meta = json.loads((expected / MARKER).read_text())
    assert meta["compute_type"] == "int8" and meta["revision"] == source.revision
    assert [p.name for p in (tmp_path / "ct2").iterdir()] == [expected.name]  # no temp left
    second = _make("ctranslate2", tiny_marian, tmp_path, compute_type="int8")
    assert not second.converted_now
    assert len(second.translate(SOURCES)) == len(SOURCES)
    other = _make("ctranslate2", tiny_marian, tmp_path, compute_type="float32")
    assert "-float32-" in other.path.name and other.path != expected
    # A newer converter writes its own folder instead of reusing this one.
    import harness.translators.ct2 as ct2_module

    real = ct2_module.package_versions
    try:
        ct2_module.package_versions = lambda names=(): {n: "99.0" for n in names}
        assert converted_dir(tmp_path, source, "int8") != expected
    finally:
        ct2_module.package_versions = real


def test_ct2_parallel_workers_keep_order(tiny_marian: Path, ct2_cache: Path) -> None:
    one = _make("ctranslate2", tiny_marian, ct2_cache, batch_size=2, inter_threads=1)
    two = _make(
        "ctranslate2", tiny_marian, ct2_cache, batch_size=2, inter_threads=2, intra_threads=1
    )
    assert two.translate(SOURCES) == one.translate(SOURCES)
    assert two.provenance()["inter_threads"] == 2


def test_ct2_provenance_names_conversion(tiny_marian: Path, ct2_cache: Path) -> None:
    tr = _make("ctranslate2", tiny_marian, ct2_cache, num_beams=2)
    prov = tr.provenance()
    assert prov["compute_type"] == "float32" and prov["device"] == "cpu"
    assert prov["generation"]["beam_size"] == 2
    # The tiny Marian has a forced final EOS, which transformers counts in max_new_tokens.
    assert prov["generation"]["max_decoding_length"] == 9
    assert Path(prov["converted_model"]).is_dir()


def test_missing_cuda_library_message_says_what_to_do() -> None:
    # Seen on an H100 with only CUDA 13 libraries: the ctranslate2 4.8.5 wheel needs CUDA 12's.
    from harness.translators.ct2 import cuda_runtime_message

    error = RuntimeError("Library libcublas.so.12 is not found or cannot be loaded")
    message = cuda_runtime_message("m", error)
    assert message.splitlines() == [
        "m: CTranslate2 failed: Library libcublas.so.12 is not found or cannot be loaded",
        "the ctranslate2 wheel is built against CUDA 12; install CUDA 12's libraries "
        "(e.g. pip install nvidia-cublas-cu12) or use backend: hf, or device: cpu",
    ]
    assert "\n" not in cuda_runtime_message("m", RuntimeError("other"))


def test_a_preset_that_changes_the_conversion_gets_its_own_folder(
    family_model: Callable[[str], Path], tmp_path: Path
) -> None:
    """Converted first as plain mBART-50, then as VinAI (decoding starts from vi_VN): the second
    must not reuse the first conversion (it did, and every output was wrong)."""
    model = family_model("vinai-translate-en2vi")
    plain = _make("ctranslate2", model, tmp_path, preset="mbart50")
    vinai = _make("ctranslate2", model, tmp_path, preset="vinai")
    assert vinai.path != plain.path and vinai.path.name.endswith("-startprefix")
    hf = _make("hf", model, tmp_path, preset="vinai")
    assert vinai.translate(SOURCES) == hf.translate(SOURCES)
