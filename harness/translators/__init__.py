"""Translators: one per backend, each applying the same model-family presets.

Backends are registered in :mod:`harness.translators.backends`; ``build_translator``,
``translator_identity`` and ``check_available`` dispatch on ``cfg.backend`` there and import
torch/transformers/ctranslate2 only when a model must really load, so importing this package
stays cheap for ``harness score`` and ``harness table``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.translators.backends import BACKENDS, BackendSpec, ModelConfig, backend_of
from harness.translators.base import BatchCallback, BuildOptions, Translator
from harness.translators.config import CT2ModelConfig, HFModelConfig
from harness.translators.identity import IdentityContext, TranslatorIdentity

__all__ = [
    "BACKENDS",
    "BackendSpec",
    "BatchCallback",
    "BuildOptions",
    "CT2ModelConfig",
    "HFModelConfig",
    "IdentityContext",
    "ModelConfig",
    "OpenAIModelConfig",
    "Translator",
    "TranslatorIdentity",
    "build_translator",
    "check_available",
    "translator_identity",
]


def build_translator(
    cfg: object,
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
    options = BuildOptions(
        cache_dir=Path(cache_dir),
        base_dir=base_dir,
        config_key=config_key,
        progress=progress,
        test_sources=tuple(test_sources),
    )
    return backend_of(cfg).build(cfg, options)


def translator_identity(cfg: object, context: IdentityContext) -> TranslatorIdentity:
    """Everything that determines ``cfg``'s output, without translating (see identity.py)."""
    return backend_of(cfg).identity(cfg, context)


def check_available(
    cfg: object, *, base_dir: Path | None = None, config_key: str | None = None
) -> None:
    """Fail now, before any model runs, if ``cfg`` cannot run here (see each backend)."""
    backend_of(cfg).check(cfg, base_dir, config_key)
