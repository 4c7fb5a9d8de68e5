"""The backend registry: one :class:`BackendSpec` per ``backend:`` value.

A backend is its config class, its module, and one line in :data:`BACKENDS`. The runner only
ever calls the three functions a spec holds: ``identity`` (everything that determines the
output, stated before anything is translated: the cache key), ``check`` (can it run here at
all; called before any model loads) and ``build`` (a ready :class:`Translator`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Discriminator, Tag

from harness.translators.base import BuildOptions, Translator
from harness.translators.config import CT2ModelConfig, HFModelConfig
from harness.translators.identity import IdentityContext, TranslatorIdentity
from harness.translators.openai_config import OpenAIModelConfig


@dataclass(frozen=True)
class BackendSpec:
    name: str
    config_class: type
    identity: Callable[[Any, IdentityContext], TranslatorIdentity]
    check: Callable[[Any, Path | None, str | None], None]
    build: Callable[[Any, BuildOptions], Translator]
    # ``model:`` names a hub id or a local folder (relative to the config); False: a name only
    # the backend understands (an API model's name on its server).
    model_is_path: bool = True


def _hf_identity(cfg: Any, ctx: IdentityContext) -> TranslatorIdentity:
    from harness.translators.hf_identity import hf_identity

    return hf_identity(cfg, ctx)


def _ct2_identity(cfg: Any, ctx: IdentityContext) -> TranslatorIdentity:
    from harness.translators.hf_identity import ct2_identity

    return ct2_identity(cfg, ctx)


def _check_transformers(cfg: Any, base_dir: Path | None, config_key: str | None) -> None:
    from harness.translators.hf_identity import check_available

    check_available(cfg, base_dir=base_dir, config_key=config_key)


def _build_transformers(cfg: Any, options: BuildOptions) -> Translator:
    from harness.translators.hf_identity import build_transformers_translator

    return build_transformers_translator(cfg, options)


def _openai_identity(cfg: Any, ctx: IdentityContext) -> TranslatorIdentity:
    from harness.translators.openai_backend import openai_identity

    return TranslatorIdentity(openai_identity(cfg, ctx.few_shot))


def _check_openai(cfg: Any, base_dir: Path | None, config_key: str | None) -> None:
    from harness.translators.openai_backend import check_openai_available

    check_openai_available(cfg, config_key)


def _build_openai(cfg: Any, options: BuildOptions) -> Translator:
    # A server runs the model: nothing loads here.
    from harness.translators.openai_backend import OpenAITranslator

    return OpenAITranslator(cfg, options)


BACKENDS: dict[str, BackendSpec] = {
    spec.name: spec
    for spec in (
        BackendSpec("hf", HFModelConfig, _hf_identity, _check_transformers, _build_transformers),
        BackendSpec(
            "ctranslate2", CT2ModelConfig, _ct2_identity, _check_transformers, _build_transformers
        ),
        BackendSpec(
            "openai",
            OpenAIModelConfig,
            _openai_identity,
            _check_openai,
            _build_openai,
            model_is_path=False,
        ),
    )
}


def backend_of(cfg: Any) -> BackendSpec:
    return BACKENDS[cfg.backend]


def _backend_tag(value: Any) -> str:
    # A missing backend means "hf", so existing configs without the key keep working.
    if isinstance(value, dict):
        return str(value.get("backend", "hf"))
    return str(getattr(value, "backend", "hf"))


def _models_union() -> Any:
    members = tuple(Annotated[spec.config_class, Tag(name)] for name, spec in BACKENDS.items())
    union = members[0]
    for member in members[1:]:
        union = union | member
    names = " or ".join(repr(n) for n in BACKENDS)
    return Annotated[
        union,
        Discriminator(
            _backend_tag,
            custom_error_type="unknown_backend",
            custom_error_message=f"unknown backend: expected {names}",
        ),
    ]


ModelConfig = _models_union()
