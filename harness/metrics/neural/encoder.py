"""The encoder a COMET checkpoint names, loaded by that name, and batched inference over it.

COMET builds ``XLMRobertaTokenizerFast.from_pretrained(name)`` and a randomly initialised
``XLMRobertaModel`` (or ``XLMRobertaXLModel``) from the name's config, then loads the
checkpoint's weights over it. With transformers 5 the tokenizer must be loaded as
``PreTrainedTokenizerFast`` (the ``tokenizer.json`` as written): ``XLMRobertaTokenizer`` and
``AutoTokenizer`` rebuild the normalizer and pre-tokenizer, which changes offsets and so the
error spans (measured on the fixtures).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import MetricError
from harness.metrics.neural.checkpoint import fingerprint, looks_like_path, missing_error

log = logging.getLogger(__name__)

_ENCODERS = {"XLM-RoBERTa": "XLMRobertaModel", "XLM-RoBERTa-XL": "XLMRobertaXLModel"}
_CONFIGS = {"XLM-RoBERTa": "XLMRobertaConfig", "XLM-RoBERTa-XL": "XLMRobertaXLConfig"}
_ENCODER_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentencepiece.bpe.model",
)


@dataclass(frozen=True)
class EncoderSource:
    name: str  # as written in hparams (or the override)
    load_path: str  # folder or hub id passed to from_pretrained
    revision: str  # hub snapshot sha, or sha256 over the local folder's files


def resolve_encoder(name: str, checkpoint_folder: Path) -> EncoderSource:
    """A ``./`` / ``../`` name is a folder relative to the checkpoint folder; else a hub id."""
    if looks_like_path(name) or name.startswith("."):
        folder = Path(os.path.expanduser(name))
        if not folder.is_absolute():
            folder = checkpoint_folder / folder
        if not (folder / "config.json").is_file():
            raise MetricError(
                f"encoder {name!r} (pretrained_model of {checkpoint_folder / 'hparams.yaml'}): "
                f"'{folder}' has no config.json"
            )
        files = [folder / f for f in _ENCODER_FILES if (folder / f).is_file()]
        return EncoderSource(name, str(folder), fingerprint(files))
    return EncoderSource(name, *_encoder_snapshot(name))


def _encoder_snapshot(name: str) -> tuple[str, str]:
    """(folder, sha) of the hub encoder's config and tokenizer files: COMET needs no weights."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, RepositoryNotFoundError

    from harness.translators.loading import is_unreachable

    try:
        path = snapshot_download(repo_id=name, allow_patterns=list(_ENCODER_FILES))
    except (RepositoryNotFoundError, HFValidationError) as e:
        raise MetricError(f"encoder {name!r} (pretrained_model) is not on the hub: {e}") from e
    except (OSError, ValueError) as e:
        if is_unreachable(e):
            raise missing_error("encoder", name, _encoder_hint(name)) from e
        raise MetricError(f"could not download encoder {name!r}: {e}") from e
    return path, Path(path).name


def _encoder_hint(name: str) -> str:
    return (
        f"put the config.json and tokenizer files of '{name}' (no weights needed) in a folder "
        "and pass it as the metric's encoder: (or as pretrained_model in hparams.yaml), or "
        "set HF_HOME to a cache that has them"
    )


def _load(source: EncoderSource, what: str, loader: Callable[..., Any]) -> Any:
    from harness.translators.loading import is_unreachable

    try:
        return loader(source.load_path)
    except (OSError, ValueError, KeyError, TypeError) as e:
        if is_unreachable(e):
            raise missing_error("encoder", source.name, _encoder_hint(source.name)) from e
        raise MetricError(f"could not load the {what} of encoder {source.name!r}: {e}") from e


def load_tokenizer(source: EncoderSource) -> Any:
    from transformers import PreTrainedTokenizerFast

    return _load(source, "tokenizer", PreTrainedTokenizerFast.from_pretrained)


def build_encoder(source: EncoderSource, encoder_model: str) -> tuple[Any, str]:
    """The bare encoder (random weights, pooler dropped) and the resolved encoder revision."""
    import transformers

    if encoder_model not in _ENCODERS:
        raise MetricError(
            f"encoder_model {encoder_model!r} is not supported; supported: {', '.join(_ENCODERS)}"
        )
    config_cls = getattr(transformers, _CONFIGS[encoder_model])
    config = _load(source, "config", config_cls.from_pretrained)
    model_cls = getattr(transformers, _ENCODERS[encoder_model])
    with _no_init():  # every weight comes from the checkpoint (missing ones are an error)
        model = model_cls(config, add_pooling_layer=False)
    return model, source.revision


def _no_init() -> Any:
    """transformers' ``no_init_weights``: random init of 560 M weights costs seconds."""
    import contextlib

    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # older transformers: initialise as usual
        return contextlib.nullcontext()
    return no_init_weights()


def resolve_device(device: str) -> Any:
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as e:
        raise MetricError(f"metric device {device!r} is not a device: {e}") from e
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise MetricError(f"metric device {device!r} asked for, but CUDA is not available")
    return resolved


def resolve_dtype(dtype: str, device: Any) -> Any:
    """``auto``: float32 on CPU, bfloat16 on a GPU that has it (else float16)."""
    import torch

    if dtype == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    table = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in table:
        raise MetricError(f"metric dtype {dtype!r}: expected auto, {', '.join(table)}")
    if device.type == "cpu" and table[dtype] is torch.float16:
        raise MetricError("metric dtype float16 needs a GPU; use float32 or bfloat16 on CPU")
    return table[dtype]


def token_batches(
    lengths: Sequence[int], batch_size: int, max_tokens: int | None
) -> Iterator[list[int]]:
    """Indices sorted by length (longest first), cut so each padded batch fits the budget."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batch: list[int] = []
    for i in order:
        longest = lengths[batch[0]] if batch else lengths[i]
        if batch and (
            len(batch) >= batch_size
            or (max_tokens is not None and longest * (len(batch) + 1) > max_tokens)
        ):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def pad(sequences: Sequence[Sequence[int]], pad_id: int, device: Any) -> tuple[Any, Any]:
    """Right-padded ids and the attention mask, as COMET builds them."""
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids.to(device), mask.to(device)


class Progress:
    """Log progress with rate and ETA every ``every`` seconds (the CPU is slow: say so)."""

    def __init__(self, label: str, total: int, device: Any, every: float = 15.0) -> None:
        self.label, self.total, self.every = label, total, every
        self.done = 0
        self.start = self.last = time.perf_counter()
        self.device = device
        log.info("%s: scoring %d sequences on %s", label, total, device)

    def advance(self, n: int) -> None:
        first = self.done == 0
        self.done += n
        now = time.perf_counter()
        if not first and now - self.last < self.every and self.done < self.total:
            return
        self.last = now
        rate = self.done / max(now - self.start, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        slow = first and self.device.type == "cpu" and eta > 120
        log.log(
            logging.WARNING if slow else logging.INFO,
            "%s: %d/%d sequences, %.1f/s, about %.0f s left%s",
            self.label,
            self.done,
            self.total,
            rate,
            eta,
            " (neural metrics on CPU are slow)" if slow else "",
        )
