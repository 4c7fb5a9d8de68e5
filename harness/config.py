"""Run configuration: YAML (safe_load) -> ``--set`` overrides -> one validation -> frozen models.

Each component receives only its own sub-config (``DatasetConfig``, ``ModelConfig``, ...). An
unknown or misspelled key is a :class:`ConfigError` naming the key path and the closest valid key.
"""

from __future__ import annotations

import copy
import os
import re
import types
import typing
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, Field, ValidationError, model_validator

from harness.configbase import StrictModel
from harness.data.config import DatasetEntry, default_name
from harness.errors import ConfigError
from harness.metrics.registry import MetricConfig, default_metric_names, metric_config
from harness.textnorm import NormalizationSpec
from harness.translators.backends import ModelConfig
from harness.translators.config import looks_like_local_path


def _nfc(value: Any) -> Any:
    # A YAML file typed on some systems holds a decomposed "hòa"; the choices are composed.
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


class NormalizeConfig(StrictModel):
    """Optional scoring-time normalization (NFC and plain spaces are always applied)."""

    tone_marks: Annotated[Literal["keep", "hòa", "hoà"], BeforeValidator(_nfc)] = "keep"
    quotes: Literal["keep", "straight"] = "keep"

    def spec(self) -> NormalizationSpec:
        return NormalizationSpec(tone_marks=self.tone_marks, quotes=self.quotes)


class StatisticsConfig(StrictModel):
    """Bootstrap confidence intervals and paired significance against a baseline model."""

    bootstrap_resamples: int = Field(default=1000, ge=0)  # 0 turns confidence intervals off
    seed: int = 12345
    baseline: str | None = None  # a model name from `models:`


def _model_default_backend(value: Any) -> Any:
    if isinstance(value, dict) and "backend" not in value:
        return {"backend": "hf", **value}
    return value


def _metric_entry(value: Any) -> Any:
    """A ``metrics:`` entry: a name or ``{name: ..., options}``, typed by its registry entry."""
    from harness.errors import MetricError

    if isinstance(value, MetricConfig):
        return value
    if not isinstance(value, str | dict):
        raise ValueError(f"a metric is a name or a mapping with a name, not {value!r}")
    try:
        return metric_config(value)
    except MetricError as e:
        raise ValueError(str(e)) from e


MetricEntry = Annotated[MetricConfig, BeforeValidator(_metric_entry)]


class RunConfig(StrictModel):
    """A whole evaluation: every model in ``models`` on every dataset in ``datasets``."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    datasets: list[DatasetEntry] = Field(min_length=1)
    models: list[Annotated[ModelConfig, BeforeValidator(_model_default_backend)]] = Field(
        min_length=1
    )
    metrics: list[MetricEntry] = Field(
        default_factory=lambda: [metric_config(n) for n in default_metric_names()], min_length=1
    )
    normalize: NormalizeConfig = NormalizeConfig()
    statistics: StatisticsConfig = StatisticsConfig()
    output_dir: str = "runs"
    cache_dir: str | None = None  # translation cache + converted models; see resolve_cache_dir

    @property
    def metric_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    @model_validator(mode="after")
    def _unique_labels(self) -> RunConfig:
        for what, labels in (
            ("models", [model_label(m) for m in self.models]),
            ("datasets", [dataset_label(d) for d in self.datasets]),
        ):
            seen: dict[str, str] = {}  # folder name -> label
            for i, label in enumerate(labels):
                folder = slug(label)
                if folder in seen:
                    same = "the same name" if seen[folder] == label else "the same folder name"
                    raise ValueError(
                        f"{what}[{i}] ({label!r}) has {same} as an earlier entry "
                        f"({seen[folder]!r} -> {folder}); give it a distinct `name:`"
                    )
                seen[folder] = label
        if len(set(self.metric_names)) != len(self.metric_names):
            raise ValueError("metrics lists the same metric twice")
        baseline = self.statistics.baseline
        if baseline is not None and baseline not in {model_label(m) for m in self.models}:
            labels = [model_label(m) for m in self.models]
            raise ValueError(
                f"statistics.baseline {baseline!r} is not a model name ({', '.join(labels)})"
                + _did_you_mean(baseline, labels)
            )
        return self


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    """``; did you mean 'a'?`` for the closest choice, ignoring case (``A`` -> ``a``)."""
    folded = {c.casefold(): c for c in choices}
    import difflib  # only for a suggestion in an error message

    hit = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=0.6)
    return f"; did you mean {folded[hit[0]]!r}?" if hit else ""


def model_label(cfg: Any) -> str:
    """The name a model goes by in folders and tables: ``name:``, the hub id, or a local
    folder's own name (not its whole path)."""
    if cfg.name:
        return str(cfg.name)
    model = str(cfg.model)
    return Path(model.rstrip("/")).name if looks_like_local_path(model) else model


def dataset_label(cfg: Any) -> str:
    """The name a dataset goes by: ``name:``, the benchmark name, or the file's stem."""
    return default_name(cfg)


def slug(label: str) -> str:
    """A label made safe as one folder name.

    ``Helsinki-NLP/opus-mt-en-vi`` -> ``Helsinki-NLP--opus-mt-en-vi``.
    """
    text = label.replace("/", "--").replace(":", "-")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "unnamed"


@dataclass(frozen=True)
class ResolvedConfig:
    """A validated config plus where it came from (relative paths resolve against base_dir)."""

    config: RunConfig
    path: Path | None
    base_dir: Path
    data: dict[str, Any]  # the plain mapping after overrides, as validated

    @property
    def run_dir(self) -> Path:
        out = Path(self.config.output_dir)
        return (out if out.is_absolute() else Path.cwd() / out) / self.config.name

    @property
    def cache_dir(self) -> Path:
        return resolve_cache_dir(self.config.cache_dir)


def resolve_cache_dir(configured: str | None) -> Path:
    """``cache_dir:`` if set, else $HARNESS_CACHE_DIR, else ~/.cache/envi-mt-harness."""
    if configured:
        return Path(configured).expanduser()
    env = os.environ.get("HARNESS_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "envi-mt-harness"


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ResolvedConfig:
    """Read a YAML config file, apply ``key.path=value`` overrides, and validate it once."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {path}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys (name, datasets, ...)")
    return validate_config(data, overrides, path=path, base_dir=path.resolve().parent)


def validate_config(
    data: dict[str, Any],
    overrides: Sequence[str] = (),
    *,
    path: Path | None = None,
    base_dir: Path | None = None,
) -> ResolvedConfig:
    """Apply overrides to a plain mapping and validate it into a :class:`RunConfig`."""
    data = copy.deepcopy(data)
    for override in overrides:
        apply_override(data, override)
    where = f"{path}: " if path else ""
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(where + format_validation_error(e, data)) from e
    return ResolvedConfig(config=config, path=path, base_dir=base_dir or Path.cwd(), data=data)


_INDEX = re.compile(r"\[(\d+)\]")


def _split_key_path(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in _INDEX.sub(r".\1", key).split("."):
        if not piece:
            raise ConfigError(f"--set {key!r}: empty key in the path")
        parts.append(int(piece) if piece.isdigit() else piece)
    return parts


def apply_override(data: dict[str, Any], override: str) -> None:
    """Apply one ``key.path=value`` override in place; the value is parsed as YAML.

    List items are addressed by index (``models.0.batch_size=8`` or ``models[0].batch_size=8``).
    """
    key, sep, raw_value = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {override!r}: expected key.path=value")
    try:
        value = yaml.safe_load(raw_value) if raw_value.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {override!r}: the value is not valid YAML") from e
    parts = _split_key_path(key.strip())
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        shown = ".".join(str(p) for p in parts[: depth + 1])
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                size = len(node) if isinstance(node, list) else "no"
                raise ConfigError(f"--set {key}: {shown} does not exist ({size} items there)")
        elif not isinstance(node, dict):
            parent = ".".join(str(p) for p in parts[:depth])
            hint = (
                f"; write {parent} as a mapping first, e.g. {{benchmark: {node}, {part}: ...}}"
                if isinstance(node, str) and parent.startswith("datasets")
                else ""
            )
            raise ConfigError(f"--set {key}: {parent} is {node!r}, not a mapping{hint}")
        if last:
            node[part] = value
        else:
            if isinstance(node, dict) and part not in node:
                node[part] = {}
            node = node[part]


def _loc_text(loc: Sequence[Any]) -> str:
    """``('datasets', 0, 'files', 'sourc')`` -> ``datasets[0].sourc`` (union tags left out)."""
    out = ""
    for i, part in enumerate(loc):
        if i and isinstance(loc[i - 1], int) and part in _union_tags(loc[: i - 1]):
            continue  # the discriminator tag pydantic inserts after a list index
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _union_tags(list_loc: Sequence[Any]) -> set[Any]:
    """Discriminator values of the union held by the top-level list at ``list_loc``."""
    if len(list_loc) != 1 or list_loc[0] not in RunConfig.model_fields:
        return set()
    item_type = _unwrap(typing.get_args(RunConfig.model_fields[list_loc[0]].annotation)[0])
    if typing.get_origin(item_type) not in (typing.Union, types.UnionType):
        return set()
    return {_tag_of(_unwrap(m)) for m in typing.get_args(item_type)}


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional wrappers from a type annotation."""
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _fields_at(loc: Sequence[Any]) -> list[str]:
    """Valid keys of the model at ``loc`` (a pydantic error location), for typo suggestions."""
    tp: Any = RunConfig
    for part in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if part not in tp.model_fields:
                return []
            tp = tp.model_fields[part].annotation
        elif origin in (list, Sequence):
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [_unwrap(m) for m in typing.get_args(tp)]
            tp = next((m for m in members if _tag_of(m) == part), None)
            if tp is None:
                return []
        else:
            return []
    tp = _unwrap(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return []
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _tag_of(model: Any) -> Any:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    for key in ("kind", "backend"):
        field = model.model_fields.get(key)
        if field is not None:
            args = typing.get_args(field.annotation)
            return args[0] if args else field.default
    return None


def format_validation_error(error: ValidationError, data: dict[str, Any]) -> str:
    """One line per problem, each naming the key path, with a suggestion for misspelled keys."""
    import difflib  # only when a config is wrong

    lines = []
    for item in error.errors():
        loc = [p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        where = _loc_text(loc) or "(top level)"
        if item["type"] == "extra_forbidden":
            valid = _fields_at(loc[:-1])
            guess = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
            hint = f"; did you mean {guess[0]!r}?" if guess else ""
            choices = f" (valid keys: {', '.join(valid)})" if valid and not guess else ""
            lines.append(f"unknown key {where}{hint}{choices}")
        elif item["type"] == "union_tag_invalid":
            ctx = item.get("ctx", {})
            expected = re.findall(r"'([^']+)'", str(ctx.get("expected_tags", "")))
            guess = difflib.get_close_matches(str(ctx.get("tag")), expected, n=1, cutoff=0.5)
            hint = f"; did you mean {guess[0]!r}?" if guess else ""
            lines.append(f"{where}: {item['msg']}{hint}")
        else:
            msg = item["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {msg}")
    return "invalid config:\n  " + "\n  ".join(lines)


def resolve_model_path(model: str, base_dir: Path) -> str:
    """A ``model:`` value that is a local path, made absolute against the config's folder.

    Hub ids (``org/name``) pass through. A value that can only be a path (see
    :func:`looks_like_local_path`) always is one; any other value is a path when it exists
    relative to the config's folder.
    """
    if looks_like_local_path(model):
        path = Path(model).expanduser()
        return str(path if path.is_absolute() else (base_dir / path).resolve())
    candidate = base_dir / model
    return str(candidate.resolve()) if candidate.exists() else model
