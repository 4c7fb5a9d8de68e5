"""The config as a run used it, for the run folder's config.yaml.

Not the file as typed: every default filled in, ``--set`` overrides applied, and every path
(data files, local model folders, output and cache folders) made absolute, so the file says
exactly what ran and `harness run <run>/config.yaml` repeats it from any folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_DATASET_PATH_KEYS = ("path", "source", "cache_dir")


def validated_config_data(resolved: Any) -> dict[str, Any]:
    """A plain mapping of ``resolved.config`` (a ResolvedConfig) with defaults and absolute
    paths; it validates back into the same settings."""
    from harness.config import resolve_model_path

    base = resolved.base_dir
    data: dict[str, Any] = resolved.config.model_dump(mode="json")
    data["output_dir"] = str(resolved.run_dir.parent)
    data["cache_dir"] = str(resolved.cache_dir.resolve())
    for dataset in data["datasets"]:
        _absolute_dataset(dataset, base)
    for model in data["models"]:
        model["model"] = resolve_model_path(model["model"], base)
        few_shot = (model.get("prompt") or {}).get("few_shot") or {}
        if isinstance(few_shot.get("dataset"), dict):
            _absolute_dataset(few_shot["dataset"], base)
    return data


def _absolute(value: str, base: Path) -> str:
    return str((base / Path(value).expanduser()).resolve())


def _absolute_dataset(dataset: dict[str, Any], base: Path) -> None:
    for key in _DATASET_PATH_KEYS:
        if dataset.get(key):
            dataset[key] = _absolute(dataset[key], base)
    if dataset.get("kind") == "files":
        dataset["references"] = [_absolute(r, base) for r in dataset["references"]]
