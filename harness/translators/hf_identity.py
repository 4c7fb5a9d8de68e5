"""Identity, availability check and builder of the transformers-based backends (``hf`` and
``ctranslate2``): what :mod:`harness.translators.backends` registers for them."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, TranslatorError
from harness.translators.base import BuildOptions, Translator
from harness.translators.identity import (
    IdentityContext,
    TranslatorIdentity,
    harness_version,
    identity_key,
    library_versions,
    output_settings,
)

# sacremoses changes Marian inputs (punctuation normalization) when installed.
_TEXT_LIBRARIES = ("transformers", "tokenizers", "sentencepiece", "sacremoses")


# Config, tokenizer and preset loaded to state an identity, kept for the build that usually
# follows in the same process and for the identity stated again once the model has loaded (a
# Marian tokenizer takes seconds to load). Keyed by the config and the weights pin.
_resolved_parts: dict[tuple[str, str, str], Any] = {}


def _parts_key(cfg: Any, source: Any) -> tuple[str, str, str]:
    return (cfg.model_dump_json(), str(source.load_path), str(source.revision))


def _load_parts(cfg: Any, source: Any, cache_dir: Path | None) -> Any:
    """Config, tokenizer and preset; CTranslate2 runs no torch, so it loads them without."""
    if cfg.backend == "ctranslate2":
        from harness.translators.torch_free import load_parts_without_torch

        return load_parts_without_torch(cfg, source, cache_dir)
    from harness.translators.loading import load_parts

    return load_parts(cfg, source)


def _weights(cfg: Any, ctx: IdentityContext) -> tuple[Any, dict[str, str]]:
    from harness.filehash import remember_in
    from harness.translators.loading import resolve_model_source

    remember_in(ctx.cache_dir)
    source = resolve_model_source(
        cfg.model, cfg.revision, base_dir=ctx.base_dir, config_key=ctx.config_key
    )
    if source.kind == "local":
        return source, {"source": "local folder", "sha256": source.revision}
    return source, {"source": "hub", "snapshot": source.revision}


def _preset(cfg: Any, ctx: IdentityContext, pinned: dict[str, Any]) -> tuple[dict, dict]:
    """The resolved preset (what the model's config and tokenizer make of ``cfg.preset``),
    remembered by everything that decides it; and the weights pin, which resolving a hub model
    that was not cached yet may only now know."""
    from harness.translators.loading import resolve_model_source

    def resolve() -> dict[str, Any]:
        source = resolve_model_source(
            cfg.model, cfg.revision, base_dir=ctx.base_dir, config_key=ctx.config_key
        )
        key = _parts_key(cfg, source)
        parts = _resolved_parts.get(key) or _load_parts(cfg, source, ctx.cache_dir)
        _resolved_parts[key] = parts  # for the build, and the identity stated again after it
        preset = parts.preset.to_json()
        preset.pop("chosen_by", None)  # the evidence, not the outcome
        return preset

    if pinned["weights"].get("snapshot") == "unresolved":
        preset = resolve()  # downloads the config and tokenizer: now the snapshot is known
        _, weights = _weights(cfg, ctx)
        return preset, weights
    return ctx.memo("preset", identity_key(pinned), resolve), pinned["weights"]


def _identity(
    cfg: Any, ctx: IdentityContext, runtime: dict, engine: tuple[str, ...]
) -> TranslatorIdentity:
    _, weights = _weights(cfg, ctx)
    versions = {"harness": harness_version(), **library_versions(_TEXT_LIBRARIES + engine)}
    settings = output_settings(cfg, drop=frozenset({"revision"}))
    pinned = {"model": cfg.model, "weights": weights, "settings": settings, "versions": versions}
    preset, weights = _preset(cfg, ctx, pinned)
    return TranslatorIdentity(
        {
            "backend": cfg.backend,
            "model": cfg.model,
            "weights": weights,
            "preset": preset,
            "settings": settings,
            "few_shot_examples": ctx.few_shot,
            "runtime": runtime,
            "versions": versions,
        }
    )


def hf_identity(cfg: Any, ctx: IdentityContext) -> TranslatorIdentity:
    return _identity(cfg, ctx, hf_runtime(cfg), ("torch",))


def ct2_identity(cfg: Any, ctx: IdentityContext) -> TranslatorIdentity:
    return _identity(cfg, ctx, ct2_runtime(cfg), ("ctranslate2",))


def hf_runtime(cfg: Any) -> dict[str, str]:
    """The kind of device and the dtype the model will really run with: ``auto`` means float32
    on a CPU but bfloat16 on a GPU, and the outputs differ (the device index does not matter).
    Without a GPU this imports no torch."""
    from harness.devices import no_gpu_for_torch

    device = cfg.device
    if device == "auto" and no_gpu_for_torch():
        device = "cpu"
    elif device != "cpu":
        from harness.translators.runtime import resolve_device

        # cuda asked for but absent: the model check says so
        with contextlib.suppress(HarnessError):
            device = resolve_device(device, "")
    kind = device.split(":")[0]
    dtype = cfg.dtype
    if dtype == "auto":
        if kind == "cuda":
            from harness.translators.runtime import resolve_dtype

            dtype = str(resolve_dtype("auto", device)).removeprefix("torch.")
        else:
            dtype = "float32"
    return {"device_kind": kind, "dtype": dtype}


def ct2_runtime(cfg: Any) -> dict[str, str]:
    from harness.devices import cuda_driver_devices

    device = cfg.device
    if device == "auto":
        device = "cpu"
        if cuda_driver_devices() > 0:
            import ctranslate2

            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    kind = device.split(":")[0]
    runtime = {"device_kind": kind, "compute_type": cfg.compute_type}
    if kind == "cpu" and cfg.compute_type.startswith("int8"):
        from harness.devices import cpu_kind

        # int8 kernels are chosen by instruction set, and their outputs differ (measured).
        runtime["cpu"] = cpu_kind()
    return runtime


def build_transformers_translator(cfg: Any, options: BuildOptions) -> Translator:
    """Load the model ``cfg`` names and return a ready translator (hf or ctranslate2)."""
    from harness.translators.loading import resolve_model_source

    source = resolve_model_source(
        cfg.model, cfg.revision, base_dir=options.base_dir, config_key=options.config_key
    )
    parts = _resolved_parts.get(_parts_key(cfg, source)) or _load_parts(
        cfg, source, options.cache_dir
    )
    match cfg.backend, parts.preset.causal:
        case "hf", False:
            from harness.translators.hf_seq2seq import HFSeq2SeqTranslator

            return HFSeq2SeqTranslator(cfg, parts, options)
        case "hf", True:
            from harness.translators.hf_causal import HFCausalTranslator

            return HFCausalTranslator(cfg, parts, options)
        case "ctranslate2", False:
            from harness.translators.ct2 import CT2Translator

            return CT2Translator(cfg, parts, options)
        case _:
            raise TranslatorError(
                f"{options.config_key or cfg.model}: backend {cfg.backend!r} cannot run "
                f"preset {parts.preset.name!r}; use backend: hf"
            )


def check_available(
    cfg: Any, *, base_dir: Path | None = None, config_key: str | None = None
) -> None:
    """Fail now, before any model runs, if ``cfg`` cannot be loaded here: a local folder that
    does not exist, a hub model that is not cached while offline, or a GPU that is not there.
    """
    from harness.hub import offline_requested
    from harness.translators.loading import not_found_error, resolve_model_source

    source = resolve_model_source(cfg.model, cfg.revision, base_dir=base_dir, config_key=config_key)
    if source.kind == "hub" and offline_requested():
        raise not_found_error(cfg.model)
    if cfg.backend == "hf":
        from harness.translators.runtime import check_placement

        check_placement(cfg, config_key or f"model {cfg.model!r}")
    if cfg.device.startswith("cuda"):
        where = f"{config_key}.device" if config_key else f"model {cfg.model!r}"
        if cfg.backend == "ctranslate2":
            import ctranslate2

            found = ctranslate2.get_cuda_device_count() > 0
        else:
            import torch

            found = torch.cuda.is_available()
        if not found:
            raise TranslatorError(
                f"{where}: {cfg.device!r} requested but no CUDA GPU is visible\n"
                "use device: auto (the GPU when there is one, else the CPU) or device: cpu"
            )
