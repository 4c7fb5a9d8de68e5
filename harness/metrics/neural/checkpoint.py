"""A COMET checkpoint exactly as published: ``hparams.yaml`` beside ``checkpoints/model.ckpt``.

The same code path serves a hub repository (``huggingface_hub.snapshot_download``) and a local
folder laid out like one. As in ``comet.load_from_checkpoint`` (unbabel-comet 2.2.7),
``hparams.yaml`` decides the model class (``class_identifier``) and every other setting comes
from the checkpoint's own ``hyper_parameters``, over the class's defaults. One deliberate
difference: a ``pretrained_model`` written in ``hparams.yaml`` wins over the checkpoint's, so
that a downloaded checkpoint can be pointed at a local copy of its encoder by editing one text
file. For published checkpoints the two agree.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import MetricError

log = logging.getLogger(__name__)

HPARAMS = "hparams.yaml"
CKPT = "checkpoints/model.ckpt"

# Constructor defaults of the COMET classes (unbabel-comet 2.2.7), for keys a checkpoint omits.
_BASE = {
    "encoder_model": "XLM-RoBERTa",
    "pool": "avg",
    "layer_transformation": "softmax",
    "layer_norm": True,
    "dropout": 0.1,
    "hidden_sizes": [3072, 1024],
    "activations": "Tanh",
    "final_activation": None,
}
CLASS_DEFAULTS: dict[str, dict[str, Any]] = {
    "regression_metric": {**_BASE, "pretrained_model": "xlm-roberta-large", "layer": "mix"},
    "unified_metric": {
        **_BASE,
        "pretrained_model": "microsoft/infoxlm-large",
        "sent_layer": "mix",
        "layer_transformation": "sparsemax",
        "word_layer": 24,
        "input_segments": ["mt", "src", "ref"],
        "word_level_training": False,
        "error_labels": ["minor", "major"],
    },
    "xcomet_metric": {
        **_BASE,
        "encoder_model": "XLM-RoBERTa-XL",
        "pretrained_model": "facebook/xlm-roberta-xl",
        "sent_layer": "mix",
        "layer_transformation": "sparsemax",
        "layer_norm": False,
        "word_layer": 36,
        "hidden_sizes": [2560, 1280],
        "word_level_training": True,
        "error_labels": ["minor", "major", "critical"],
    },
}


class CheckpointNotFoundError(MetricError):
    """A metric checkpoint (or its encoder) is neither local nor cached, and the hub is away.

    ``what`` and ``name`` say which ("metric checkpoint", its hub id), so that the caller that
    knows the metric's config name can say how to point that metric at a local copy."""

    def __init__(self, message: str, what: str = "", name: str = "") -> None:
        super().__init__(message)
        self.what, self.name = what, name


@dataclass(frozen=True)
class CometCheckpoint:
    """What was loaded, from where, and the settings that decide the numbers."""

    model_id: str  # as configured: hub id or folder
    folder: Path  # the folder holding hparams.yaml
    kind: str  # "local" | "hub"
    revision: str  # hub snapshot sha, or sha256:<hex> over the local checkpoint files
    class_identifier: str
    hparams: dict[str, Any]
    state_dict: dict[str, Any]


def looks_like_path(model: str) -> bool:
    from harness.translators.config import looks_like_local_path

    return looks_like_local_path(model) or os.path.isdir(os.path.expanduser(model))


def missing_error(what: str, name: str, hint: str) -> CheckpointNotFoundError:
    return CheckpointNotFoundError(
        f"{what} '{name}' is not in the local Hugging Face cache and the hub is unreachable"
        f"\n{hint}",
        what,
        name,
    )


def checkpoint_hint(name: str, metric: str = "comet") -> str:
    """How to point ``metric`` (its config name) at a local copy of checkpoint ``name``."""
    return (
        f"point the metric at a local copy of '{name}': in the config "
        f"`metrics: [{{name: {metric}, model: /path/to/folder}}]` (hparams.yaml beside "
        f"checkpoints/model.ckpt), on the command line --metrics {metric}=/path/to/folder"
    )


def resolve_folder(
    model: str, revision: str | None, base_dir: Path | None = None
) -> tuple[Path, str, str]:
    """(folder, kind, revision) for a hub id or a local folder; downloads only what is needed."""
    folder, kind = locate(model, revision, base_dir)
    if kind == "hub":
        return folder, kind, folder.name
    if revision is not None:
        log.warning("metric model %s: revision %r ignored for a local folder", model, revision)
    return folder, kind, fingerprint([folder / HPARAMS, folder / CKPT])


def locate(model: str, revision: str | None, base_dir: Path | None = None) -> tuple[Path, str]:
    """(folder, "local" or "hub") of a checkpoint laid out as COMET's, nothing hashed or read."""
    if looks_like_path(model):
        folder = Path(os.path.expanduser(model))
        if not folder.is_absolute() and base_dir is not None:
            folder = base_dir / folder
        check_layout(folder, model)
        return folder, "local"
    folder = _snapshot(model, revision)
    check_layout(folder, model)
    return folder, "hub"


def _snapshot(model: str, revision: str | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from harness.translators.loading import is_unreachable

    try:
        path = snapshot_download(repo_id=model, revision=revision, allow_patterns=[HPARAMS, CKPT])
    except GatedRepoError as e:
        raise MetricError(
            f"metric checkpoint '{model}' is gated on the hub: accept its licence on its hub "
            f"page and set HF_TOKEN, or pass a local copy as model: ({e.__class__.__name__})"
        ) from e
    except (RepositoryNotFoundError, RevisionNotFoundError, HFValidationError) as e:
        raise MetricError(
            f"metric checkpoint '{model}' (revision {revision or 'main'}) was not found on the "
            f"hub: {e}"
        ) from e
    except (OSError, ValueError) as e:
        if is_unreachable(e):
            raise missing_error("metric checkpoint", model, checkpoint_hint(model)) from e
        raise MetricError(f"could not download metric checkpoint '{model}': {e}") from e
    return Path(path)


def check_layout(folder: Path, model: str) -> None:
    if not folder.is_dir():
        raise MetricError(f"metric model {model!r}: folder '{folder}' does not exist")
    for name in (HPARAMS, CKPT):
        if not (folder / name).is_file():
            raise MetricError(
                f"metric model {model!r}: '{folder / name}' is missing; a COMET checkpoint "
                f"folder has {HPARAMS} beside {CKPT}, as in its hub repository"
            )


def fingerprint(files: list[Path]) -> str:
    """``sha256:<hex>`` over names and bytes, kept while the files' sizes and times stay."""
    stamp = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _hash(stamp)


@functools.lru_cache(maxsize=32)
def _hash(stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, _, _ in stamp:
        digest.update(Path(name).name.encode() + b"\0")
        with open(name, "rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def read_hparams(folder: Path) -> dict[str, Any]:
    import yaml

    path = folder / HPARAMS
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise MetricError(f"{path}: cannot read hparams: {e}") from e
    if not isinstance(data, dict):
        raise MetricError(f"{path}: expected a mapping of hyper-parameters")
    if data.get("class_identifier") not in CLASS_DEFAULTS:
        raise MetricError(
            f"{path}: class_identifier {data.get('class_identifier')!r} is not supported; "
            f"supported: {', '.join(CLASS_DEFAULTS)}"
        )
    return data


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The Lightning checkpoint dict, unpickled with ``weights_only=True`` (no code runs)."""
    import pickle

    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, ValueError) as e:
        raise MetricError(f"{path}: cannot read the checkpoint: {e}") from e
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise MetricError(f"{path}: not a COMET checkpoint (no state_dict)")
    return ckpt


def load_checkpoint(
    model: str, revision: str | None = None, base_dir: Path | None = None
) -> CometCheckpoint:
    folder, kind, resolved = resolve_folder(model, revision, base_dir)
    yaml_hparams = read_hparams(folder)
    class_identifier = yaml_hparams["class_identifier"]
    ckpt = read_checkpoint(folder / CKPT)
    saved = ckpt.get("hyper_parameters")
    if not isinstance(saved, dict):
        log.warning("%s: no hyper_parameters in the checkpoint; using %s", folder / CKPT, HPARAMS)
        saved = yaml_hparams
    hparams = {**CLASS_DEFAULTS[class_identifier], **saved}
    if "pretrained_model" in yaml_hparams:
        hparams["pretrained_model"] = yaml_hparams["pretrained_model"]
    if class_identifier == "xcomet_metric":
        hparams["input_segments"] = ["mt", "src", "ref"]  # XCOMETMetric sets this itself
    return CometCheckpoint(
        model, folder, kind, resolved, class_identifier, hparams, ckpt["state_dict"]
    )
