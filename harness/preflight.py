"""Checks that take milliseconds and save a wasted run, done before any data or model loads.

The later checks (``translators.check_available``) need torch and the cache; they take seconds
(torch alone imports in 3 to 8 s). These need neither: a run folder that cannot be written, a
local model folder that is not there, ``device: cuda`` on a machine with no GPU at all.
"""

from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import RunFolderError, TranslatorError

_GPU_DEVICE_FILES = ("/dev/nvidia[0-9]*", "/dev/dxg", "/dev/kfd")  # NVIDIA, WSL, ROCm


def check_run(resolved: Any, *, writes: bool = True) -> None:
    """Fail fast on what a :class:`~harness.config.ResolvedConfig` cannot do here.

    ``writes`` is False for a process that never writes the run folder (torchrun ranks > 0).
    """
    if writes:
        check_writable(resolved.run_dir)
    from harness.translators.backends import backend_of

    for index, model in enumerate(resolved.config.models):
        key = f"models[{index}]"
        if backend_of(model).model_is_path:  # an API model's name is the server's
            check_local_model(str(model.model), resolved.base_dir, key)
        device = getattr(model, "device", None)
        if device is not None:
            check_gpu_present(str(device), f"{key}.device")
    check_metrics(resolved.config.metrics, resolved.base_dir)


def check_metrics(metrics: Any, base_dir: Path) -> None:
    """Each metric's own check (a neural metric's checkpoint is there, or cached offline)."""
    from harness.errors import MetricError
    from harness.metrics.registry import get_metric

    for index, config in enumerate(metrics):
        check = get_metric(config.name).check
        if check is None:
            continue
        try:
            check(config.with_base_dir(base_dir))
        except MetricError as e:
            raise MetricError(f"metrics[{index}] ({config.name}): {e}") from e


def check_writable(run_dir: Path) -> None:
    """Raise RunFolderError unless files can be created in ``run_dir`` (or, when it does not
    exist yet, in its nearest existing parent). Leaves nothing behind."""
    target = Path(run_dir)
    while not target.exists() and target != target.parent:
        target = target.parent
    if not target.is_dir():
        raise RunFolderError(
            f"cannot write the run folder {run_dir}: {target} is a file, not a folder\n"
            "set output_dir (or --set output_dir=...) to a folder"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".harness-write-check-", dir=target)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise RunFolderError(
            f"cannot write the run folder {run_dir}: {target} is not writable "
            f"({e.strerror or e})\nset output_dir (or --set output_dir=...) to a writable folder"
        ) from e


def check_local_model(model: str, base_dir: Path, key: str) -> None:
    """A ``model:`` value that is a local path must be a folder with a config.json."""
    from harness.config import resolve_model_path
    from harness.translators.config import looks_like_local_path

    resolved = Path(resolve_model_path(model, base_dir))
    if not (looks_like_local_path(model) or resolved.exists()):
        return  # a hub id: whether it is cached or reachable is checked later
    if not resolved.exists():
        raise TranslatorError(
            f"{key}.model: local folder '{resolved}' does not exist "
            f"(relative paths are taken from the config file's folder, {base_dir})"
        )
    if not resolved.is_dir():
        raise TranslatorError(f"{key}.model: '{resolved}' is not a folder")
    if not (resolved / "config.json").is_file():
        raise TranslatorError(
            f"{key}.model: folder '{resolved}' has no config.json (not a saved model)"
        )


def no_gpu_here() -> bool:
    """True only when this machine certainly has no GPU a CUDA (or ROCm) build could see."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return True
    return not any(glob.glob(pattern) for pattern in _GPU_DEVICE_FILES)


def check_gpu_present(device: str, where: str) -> None:
    if device.startswith("cuda") and no_gpu_here():
        raise TranslatorError(
            f"{where}: {device!r}, but this machine has no GPU\n"
            "use device: auto (the GPU when there is one, else the CPU) or device: cpu, "
            f"e.g. --set {where.replace('[', '.').replace(']', '')}=auto"
        )
