"""Translators: one per backend, each applying the same model-family presets.

``build_translator`` is the one entry point; it imports torch/transformers/ctranslate2 only when
called, so importing this package stays cheap for ``harness score`` and ``harness table``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.errors import TranslatorError
from harness.translators.base import BatchCallback, BuildOptions, Translator
from harness.translators.config import CT2ModelConfig, HFModelConfig, ModelConfig

__all__ = [
    "BatchCallback",
    "BuildOptions",
    "CT2ModelConfig",
    "HFModelConfig",
    "ModelConfig",
    "Translator",
    "build_translator",
    "check_available",
]


def build_translator(
    cfg: HFModelConfig | CT2ModelConfig,
    *,
    cache_dir: Path,
    base_dir: Path | None = None,
    config_key: str | None = None,
    progress: bool = True,
    test_sources: Sequence[str] = (),
) -> Translator:
    """Load the model ``cfg`` names and return a ready translator.

    ``cache_dir`` holds converted CTranslate2 models; ``base_dir`` anchors relative paths;
    ``config_key`` (e.g. ``"models[1]"``) names the model in errors; ``test_sources`` are
    checked against few-shot examples. Raises :class:`harness.errors.TranslatorError`
    (:class:`~harness.errors.ModelNotFoundError` when offline and not cached).
    """
    from harness.translators.loading import load_parts, resolve_model_source

    options = BuildOptions(
        cache_dir=Path(cache_dir),
        base_dir=base_dir,
        config_key=config_key,
        progress=progress,
        test_sources=tuple(test_sources),
    )
    source = resolve_model_source(cfg.model, cfg.revision, base_dir=base_dir, config_key=config_key)
    parts = load_parts(cfg, source)
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
    cfg: HFModelConfig | CT2ModelConfig,
    *,
    base_dir: Path | None = None,
    config_key: str | None = None,
) -> None:
    """Fail now, before any model runs, if ``cfg`` cannot be loaded here: a local folder that
    does not exist, a hub model that is not cached while offline, or a GPU that is not there.

    The runner checks every model first, so a missing third model does not surface only after
    the first two have translated for an hour.
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
            raise TranslatorError(f"{where}: {cfg.device!r} requested but no CUDA GPU is visible")
