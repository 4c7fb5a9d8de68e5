"""Loading a MetricX-24 checkpoint and its tokenizer (local folder or hub), with clear errors.

The checkpoint loads as ``MT5ForConditionalGeneration`` (the weight names of metricx24's
``MT5ForRegression``); only the score row of its output layer is kept. Sources are resolved as
the translators resolve theirs (:mod:`harness.translators.loading`): a local folder is
fingerprinted by the sha256 of its files, a cached hub snapshot by its commit sha, and a hub id
that is neither cached nor reachable fails at once with a two-line message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, MetricError
from harness.metrics.neural.metricx import DTYPES, SCORE_POSITION, MetricXSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedMetricX:
    """What :class:`~harness.metrics.neural.metricx.MetricXScorer` runs on."""

    model: Any  # MT5ForConditionalGeneration without its output layer
    tokenizer: Any
    score_row: Any  # tensor (d_model,): lm_head.weight[SCORE_POSITION]
    tied: bool
    d_model: int
    pad_id: int
    trailing_space_id: int | None  # see _trailing_space_id
    device: str
    dtype: Any
    model_revision: str
    tokenizer_revision: str


def _trailing_space_id(tokenizer: Any) -> int | None:
    """The id to append for an input ending in whitespace, or None when none is needed.

    The reference runs under transformers 4.30, whose mT5 fast tokenizer turns trailing
    whitespace into a final lone "▁" piece (QE inputs end with "candidate: " when the
    hypothesis is empty). transformers 5's drops it (as SentencePiece itself does), which
    changes the score; appending the piece restores the reference's input exactly. Tokenizers
    that keep the piece themselves (transformers 4) get None and are left alone.
    """
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    spaced = tokenizer("a ", add_special_tokens=False)["input_ids"]
    if spaced != plain:
        return None
    return int(tokenizer.convert_tokens_to_ids("\u2581"))


def load_parts(settings: MetricXSettings) -> LoadedMetricX:
    """Resolve, load and check tokenizer and checkpoint; raises MetricError."""
    import torch

    from harness.translators.runtime import resolve_device, resolve_dtype

    key = settings.config_key
    try:
        device = resolve_device(settings.device, key)
    except HarnessError as e:
        raise MetricError(str(e)) from e
    if settings.dtype not in DTYPES:
        raise MetricError(f"{key}: unknown dtype {settings.dtype!r} (use {', '.join(DTYPES)})")
    dtype = resolve_dtype(settings.dtype, device)
    tokenizer, tok_rev = _load_tokenizer(settings)
    model, model_rev, tied = _load_model(settings, dtype)
    config = model.config
    if getattr(config, "vocab_size", 0) <= SCORE_POSITION:
        raise MetricError(
            f"{key}: {settings.model!r} has a vocabulary of {config.vocab_size}; a MetricX-24 "
            f"checkpoint reads its score at position {SCORE_POSITION}"
        )
    score_row = model.lm_head.weight[SCORE_POSITION].detach().clone()
    model.lm_head = torch.nn.Identity()  # the other 250,111 rows are never used
    model.to(device=device, dtype=dtype).eval()
    return LoadedMetricX(
        model=model,
        tokenizer=tokenizer,
        score_row=score_row.to(device=device, dtype=dtype),
        tied=tied,
        d_model=int(config.d_model),
        pad_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        trailing_space_id=_trailing_space_id(tokenizer),
        device=device,
        dtype=dtype,
        model_revision=model_rev,
        tokenizer_revision=tok_rev,
    )


def _load_model(settings: MetricXSettings, dtype: Any) -> tuple[Any, str, bool]:
    """The model, its resolved revision, and whether its output layer is tied to the embedding.

    transformers 5's ``MT5Config`` forces ``tie_word_embeddings=True`` whatever config.json
    says (it still loads a separate ``lm_head`` when the checkpoint has one), and its warning
    about that is noise here. The reference (transformers 4.30) reads the file's value, with
    ``False`` as MT5Config's default then; a tied model rescales its decoder output, so the
    value is taken from the file itself.
    """
    from transformers import MT5ForConditionalGeneration, PretrainedConfig
    from transformers.utils import logging as hf_logging

    source = _resolve(settings.model, settings.revision, settings, "checkpoint")
    raw = _call_loader(source, settings, "checkpoint", PretrainedConfig.get_config_dict)[0]
    if raw.get("model_type") not in ("mt5", "t5"):
        raise MetricError(
            f"{settings.config_key}: {settings.model!r} is a {raw.get('model_type')!r} model, "
            "not an mT5 regression checkpoint (MetricX-24)"
        )
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model, info = _call_loader(
            source,
            settings,
            "checkpoint",
            MT5ForConditionalGeneration.from_pretrained,
            dtype=dtype,
            output_loading_info=True,
        )
    finally:
        hf_logging.set_verbosity(verbosity)
    tied = bool(raw.get("tie_word_embeddings", False))
    missing = [k for k in info.get("missing_keys", ()) if not k.endswith("embed_tokens.weight")]
    if not tied and model.lm_head.weight.data_ptr() == model.shared.weight.data_ptr():
        # transformers 5 ties the two when lm_head.weight is absent or equal to the embedding;
        # the reference would start a missing one from random weights.
        log.warning(
            "%s: checkpoint %r has no lm_head.weight of its own; the embedding is used",
            settings.config_key,
            settings.model,
        )
    if missing:
        raise MetricError(
            f"{settings.config_key}: checkpoint {settings.model!r} lacks weights "
            f"{', '.join(sorted(missing)[:5])}: not a complete MetricX-24 checkpoint"
        )
    return model, _refreshed_revision(source), tied


def _load_tokenizer(settings: MetricXSettings) -> tuple[Any, str]:
    from transformers import AutoTokenizer

    source = _resolve(settings.tokenizer, settings.tokenizer_revision, settings, "tokenizer")
    tokenizer = _call_loader(source, settings, "tokenizer", AutoTokenizer.from_pretrained)
    return tokenizer, _refreshed_revision(source)


def resolve_sources(settings: MetricXSettings) -> tuple[Any, Any]:
    """Checkpoint and tokenizer as found (local folder, hub cache), neither loaded; raises
    when offline and one is not cached."""
    return (
        _resolve(settings.model, settings.revision, settings, "checkpoint"),
        _resolve(settings.tokenizer, settings.tokenizer_revision, settings, "tokenizer"),
    )


def _resolve(name: str, revision: str | None, settings: MetricXSettings, what: str) -> Any:
    """A :class:`~harness.translators.loading.ModelSource`; fails fast when offline and absent."""
    from harness.hub import offline_reason, offline_requested
    from harness.translators.loading import ModelSource, folder_fingerprint, resolve_model_source

    folder = Path(name).expanduser()
    if what == "tokenizer" and folder.is_dir():
        # A tokenizer folder has tokenizer files, not necessarily a config.json.
        return ModelSource(
            name, str(folder), None, folder_fingerprint(folder), "local", settings.config_key
        )
    try:
        source = resolve_model_source(name, revision, config_key=settings.config_key)
    except HarnessError as e:
        raise MetricError(str(e)) from e
    if source.kind == "hub" and offline_requested():
        raise _missing(settings, what, name, offline_reason())
    return source


def _call_loader(
    source: Any, settings: MetricXSettings, what: str, loader: Any, **kwargs: Any
) -> Any:
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    if source.load_revision is not None:
        kwargs["revision"] = source.load_revision
    try:
        return loader(source.load_path, **kwargs)
    except (RepositoryNotFoundError, RevisionNotFoundError) as e:
        raise MetricError(
            f"{settings.config_key}: {what} {source.model_id!r} (revision "
            f"{source.load_revision or 'main'}) was not found on the hub, or is gated: {e}"
        ) from e
    except (OSError, ValueError, KeyError, TypeError) as e:
        from harness.translators.loading import is_unreachable

        if source.kind == "hub" and is_unreachable(e):
            raise _missing(settings, what, source.model_id, "the hub could not be reached") from e
        raise MetricError(
            f"{settings.config_key}: could not load the {what} {source.model_id!r}: {e}"
        ) from e


def _refreshed_revision(source: Any) -> str:
    from harness.translators.loading import refresh_after_download

    return str(refresh_after_download(source).revision)


def _missing(settings: MetricXSettings, what: str, name: str, why: str) -> MetricError:
    """The two-line error for a checkpoint or tokenizer that is neither local nor fetchable."""
    key = settings.config_key
    if what == "tokenizer":
        hint = (
            f"point {key} at a local copy with tokenizer: /path/to/mt5-xl (a folder with "
            "spiece.model and tokenizer_config.json, as the hub repository has)"
        )
    else:
        hint = (
            f"point {key} at a local copy with model: /path/to/{name.rsplit('/', 1)[-1]} (a "
            "folder with config.json and model.safetensors, as the hub repository has)"
        )
    return MetricError(
        f"{key}: {what} {name!r} is not in the local Hugging Face cache and {why}\n"
        f"{hint}, or set HF_HOME to a cache that has it"
    )
