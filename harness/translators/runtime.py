"""Device, dtype, versions and source encoding shared by the transformers-based backends."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import TranslatorError
from harness.versions import version_or_absent

log = logging.getLogger(__name__)

# sacremoses changes Marian inputs (punctuation normalization) when installed, so record it.
_VERSIONED = ("torch", "transformers", "tokenizers", "sentencepiece", "sacremoses", "ctranslate2")


def package_versions(names: Sequence[str] = _VERSIONED) -> dict[str, str]:
    """Installed versions of ``names`` (``"absent"`` for those not installed)."""
    return {name: version_or_absent(name) for name in names}


def resolve_device(device: str, where: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; check an explicit CUDA ask."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TranslatorError(
            f"{where}: device {device!r} requested but torch sees no CUDA GPU\n"
            "use device: auto (the GPU when there is one, else the CPU) or device: cpu"
        )
    if device != "cpu" and not device.startswith(("cuda", "mps", "xpu")):
        raise TranslatorError(f"{where}: unknown device {device!r} (use auto, cpu, cuda, cuda:N)")
    return device


def resolve_dtype(dtype: str, device: str) -> Any:
    """``auto`` -> float32 on CPU (half precision is slow there), bfloat16 on GPUs that have it."""
    import torch

    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, dtype)


def check_placement(cfg: Any, where: str) -> None:
    """Fail with the reason when ``device_map``/``quantization`` cannot work here (no CUDA
    GPU, a package missing, more processes on this node than GPUs)."""
    if not getattr(cfg, "device_map", None) and not getattr(cfg, "quantization", None):
        return
    import importlib.util

    import torch

    asks = [
        f"{name}: {value}"
        for name, value in (("device_map", cfg.device_map), ("quantization", cfg.quantization))
        if value
    ]
    what = " and ".join(asks)
    if not torch.cuda.is_available():
        raise TranslatorError(
            f"{where}: {what} needs CUDA GPUs and torch sees none\n"
            "run it on a GPU machine, or drop it from the config to run on this CPU"
        )
    for package, needed in (("accelerate", True), ("bitsandbytes", bool(cfg.quantization))):
        if needed and importlib.util.find_spec(package) is None:
            raise TranslatorError(
                f"{where}: {what} needs the {package} package, which is not installed\n"
                f"pip install {package}"
            )
    if cfg.device_map and not placement_gpus():
        raise TranslatorError(
            f"{where}: device_map: auto and more processes on this node than GPUs "
            f"({torch.cuda.device_count()})\neach process spreads its model over GPUs of its "
            "own: start at most one process per GPU (torchrun --nproc-per-node)"
        )


def placement_gpus() -> list[int]:
    """The GPUs this process may spread a ``device_map: auto`` model over."""
    import torch

    from harness.distributed import current_rank, gpus_for

    return gpus_for(current_rank(), torch.cuda.device_count())


def load_kwargs(cfg: Any, device: str, dtype: Any) -> dict[str, Any]:
    """``from_pretrained`` arguments for where the weights go: one device (the caller then
    moves the model there), several GPUs (accelerate places them), or quantized weights
    (bitsandbytes; placed at load, since such a model cannot be moved afterwards)."""
    kwargs: dict[str, Any] = {}
    if cfg.device_map:
        import torch

        gpus = placement_gpus()
        kwargs["device_map"] = "auto"
        # Only this process's GPUs; the rest of each (free) memory is accelerate's to plan.
        kwargs["max_memory"] = {
            gpu: torch.cuda.get_device_properties(gpu).total_memory for gpu in gpus
        }
    elif cfg.quantization:
        kwargs["device_map"] = {"": device}
    if cfg.quantization:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = (
            BitsAndBytesConfig(load_in_8bit=True)
            if cfg.quantization == "8bit"
            else BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=dtype)
        )
    return kwargs


@dataclass(frozen=True)
class EncodedSources:
    """Token ids for every source (special tokens included), and how many were cut short."""

    ids: list[list[int]]
    truncated: int
    max_source_tokens: int | None
    truncated_positions: tuple[int, ...] = ()

    @property
    def lengths(self) -> list[int]:
        return [len(x) for x in self.ids]


def source_token_limit(tokenizer: Any, model_config: Any) -> int | None:
    """Longest input the model accepts, or None when it has no hard limit."""
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and limit < 1_000_000:
        return limit
    positions = getattr(model_config, "max_position_embeddings", None)
    return positions if isinstance(positions, int) else None


def encode_sources(tokenizer: Any, texts: Sequence[str], limit: int | None) -> EncodedSources:
    """Tokenize once; sources over ``limit`` are truncated (and counted, and logged)."""
    ids = tokenizer(list(texts), add_special_tokens=True)["input_ids"]
    truncated = 0
    over: list[int] = []
    if limit is not None:
        over = [i for i, row in enumerate(ids) if len(row) > limit]
        if over:
            cut = tokenizer([texts[i] for i in over], truncation=True, max_length=limit)
            for i, row in zip(over, cut["input_ids"], strict=True):
                ids[i] = row
            truncated = len(over)
            log.warning(
                "%d source(s) longer than %d tokens were truncated (first at position %d)",
                truncated,
                limit,
                over[0],
            )
    return EncodedSources(
        ids=[list(r) for r in ids],
        truncated=truncated,
        max_source_tokens=limit,
        truncated_positions=tuple(over),
    )


def count_parameters(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int, *, left: bool = False) -> tuple[Any, Any]:
    """Pad token rows into ``(input_ids, attention_mask)`` tensors (left for decoder-only)."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for j, row in enumerate(rows):
        span = slice(width - len(row), width) if left else slice(0, len(row))
        ids[j, span] = torch.tensor(row, dtype=torch.long)
        mask[j, span] = 1
    return ids, mask


def identity_provenance(backend: str, cfg: Any, source: Any) -> dict[str, Any]:
    """Which model ran, as every backend records it: name, id, revisions and where it came from."""
    return {
        "backend": backend,
        "name": cfg.label,
        "model": cfg.model,
        "revision": source.revision,
        "requested_revision": cfg.revision,
        "source": source.kind,
    }
