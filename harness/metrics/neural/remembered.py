"""A rerun whose segments are all cached loads no metric model.

A neural metric's per-segment cache is keyed by the loaded scorer's identity (checkpoint,
encoder, the dtype it really runs in, library versions), and its signature comes from the
scorer too; loading a real checkpoint takes torch and tens of seconds. So what a loaded scorer
says about itself (its identity key and signatures: "facts") is remembered in the segment
cache under a **pin** made without loading anything: the metric's config, the checkpoint and
encoder as found on disk (a hub snapshot's commit, or a local file's path, size and mtime),
the device kind and dtype it will run with, and the versions of the harness, torch and
transformers. A later run with the same pin reads the facts, finds every segment's score, and
never loads the model; one segment missing and it loads the model as before.

Where the pin cannot be made without loading (a GPU with ``dtype: auto``, whose bfloat16
support only torch can tell; a checkpoint whose ``hparams.yaml`` does not name its encoder),
there is no pin and the model is loaded: slower, never wrong.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.versions import version_or_absent


def pin_key(pin: dict[str, Any] | None) -> str | None:
    if pin is None:
        return None
    blob = json.dumps(pin, sort_keys=True, ensure_ascii=False, default=str)
    return "pin:" + hashlib.sha256(blob.encode()).hexdigest()[:32]


def _runtime(config: Any) -> dict[str, Any] | None:
    """Device kind and dtype as the scorer will resolve them, or None when only torch knows."""
    from harness.devices import no_gpu_for_torch

    device = config.device
    kind = "cpu" if device == "cpu" or (device == "auto" and no_gpu_for_torch()) else "cuda"
    if kind == "cuda" and config.dtype == "auto":
        return None  # bfloat16 or float16: torch.cuda.is_bf16_supported() decides
    dtype = "float32" if config.dtype == "auto" else config.dtype
    import harness

    versions = {name: version_or_absent(name) for name in ("torch", "transformers", "tokenizers")}
    return {"device": kind, "dtype": dtype, "harness": harness.__version__, **versions}


def _stamp(path: Path) -> list[Any]:
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def comet_pin(config: Any, model: str) -> dict[str, Any] | None:
    """The pin of a COMET-family scorer (see the module docstring), or None."""
    from harness.metrics.neural.checkpoint import CKPT, HPARAMS, locate, read_hparams
    from harness.metrics.neural.encoder import resolve_encoder

    runtime = _runtime(config)
    if runtime is None:
        return None
    try:
        folder, kind = locate(model, config.revision)
        files = (
            [_stamp(folder / HPARAMS), _stamp(folder / CKPT)] if kind == "local" else [folder.name]
        )
        encoder_name = read_hparams(folder).get("pretrained_model")
        if not encoder_name:
            return None  # named only inside the checkpoint, which only torch reads
        encoder = resolve_encoder(str(encoder_name), folder)
    except (HarnessError, OSError):
        return None  # loading says what is wrong
    return {
        "config": config.model_dump(mode="json"),
        "checkpoint": files,
        "encoder": [encoder.name, encoder.revision],
        **runtime,
    }


def metricx_pin(config: Any, settings: Any) -> dict[str, Any] | None:
    """The pin of a MetricX scorer (``settings`` made from ``config``): model and tokenizer as
    resolved on disk, or None."""
    from harness.metrics.neural.metricx_load import resolve_sources

    runtime = _runtime(config)
    if runtime is None:
        return None
    try:
        model, tokenizer = resolve_sources(settings)
    except (HarnessError, OSError):
        return None
    if "unresolved" in (model.revision, tokenizer.revision):
        return None
    return {
        "config": config.model_dump(mode="json"),
        "model": [model.model_id, model.revision],
        "tokenizer": [tokenizer.model_id, tokenizer.revision],
        **runtime,
    }
