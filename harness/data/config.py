"""Config models for dataset sources, one per ``kind`` (a discriminated union).

Paths stay strings here; :func:`harness.data.load_dataset` resolves relative ones against the
folder of the config file (``base_dir``), so a config means the same thing from any working
directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from harness.configbase import StrictModel
from harness.errors import ConfigError


class _Common(StrictModel):
    name: str | None = None  # label in run folders and tables; defaults per kind
    limit: int | None = Field(default=None, gt=0)  # first N segments
    sample: int | None = Field(default=None, gt=0)  # seeded random subset of N segments
    seed: int = 0  # for `sample`
    # Drop (and report) pairs with an empty source or reference instead of failing on them.
    skip_empty: bool = False
    # Undo Moses tokenization and its HTML escapes (&quot; &apos; ...); recorded in results.
    detokenize_references: bool = False
    detokenize_source: bool = False

    @model_validator(mode="after")
    def _one_subset(self) -> _Common:
        if self.limit is not None and self.sample is not None:
            raise ValueError("give `limit` (first N) or `sample` (random N), not both")
        return self


def _known_benchmark(name: str) -> str:
    from harness.data.registry import BENCHMARKS  # registry imports this module

    if name not in BENCHMARKS:
        raise ValueError(unknown_benchmark_message(name))
    return name


def unknown_benchmark_message(name: str) -> str:
    import difflib  # only for a suggestion in an error message

    from harness.data.registry import BENCHMARKS

    close = difflib.get_close_matches(name, list(BENCHMARKS), n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return (
        f"unknown benchmark {name!r}; {hint}known benchmarks: {', '.join(BENCHMARKS)} "
        "(`harness datasets` lists them)"
    )


class BenchmarkDataset(_Common):
    """A named benchmark from the registry (``harness datasets`` lists them)."""

    kind: Literal["benchmark"] = "benchmark"
    benchmark: str
    # Local copy: required for benchmarks read from local files (PhoMT, NTREX-128);
    # for hub benchmarks, a `save_to_disk` folder, a hub snapshot or the original files.
    path: str | None = None
    revision: str | None = None  # hub benchmarks: pin a dataset revision (commit sha or tag)
    cache_dir: str | None = None  # hub benchmarks: datasets cache (default: HF_DATASETS_CACHE)

    @field_validator("benchmark")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _known_benchmark(value)


class InterleavedDataset(_Common):
    """A bilingual document: each English line followed by its Vietnamese translation."""

    kind: Literal["interleaved"]
    path: str


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class FilesDataset(_Common):
    """Line-aligned plain-text files: one source file and one or more reference files."""

    kind: Literal["files"]
    source: str
    references: Annotated[list[str], BeforeValidator(_as_list)] = Field(min_length=1)


class TableDataset(_Common):
    """A TSV, CSV or JSONL file with a header (or keys) naming its columns.

    JSONL columns may be dotted paths into nested objects (``translation.vi``).
    """

    kind: Literal["table"]
    path: str
    format: Literal["tsv", "csv", "jsonl"] | None = None  # default: from the file extension
    source_column: str = "en"
    reference_columns: Annotated[list[str], BeforeValidator(_as_list)] = Field(
        default_factory=lambda: ["vi"], min_length=1
    )
    id_column: str | None = None  # default: the line number


class HFJoin(StrictModel):
    """Source and references live in two configs of one dataset, matched by an id column.

    FLORES+ is the example: ``eng_Latn`` and ``vie_Latn`` are separate configs.
    """

    source_config: str
    reference_config: str
    # Not `on`: YAML 1.1 (PyYAML) reads a bare `on:` key as the boolean true.
    key: str = "id"

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, value: Any) -> Any:
        if isinstance(value, dict) and (True in value or "on" in value):
            raise ValueError("name the id column with `key:` (YAML reads `on:` as true)")
        return value


class HFDataset(_Common):
    """A Hugging Face ``datasets`` split: from the hub, a local dataset folder or `save_to_disk`.

    Columns may be dotted paths into nested features (``translation.en``).
    """

    kind: Literal["hf"]
    dataset: str | None = None  # hub id, e.g. IWSLT/mt_eng_vietnamese
    path: str | None = None  # local folder: a save_to_disk folder, a hub snapshot or data files
    config: str | None = None
    split: str = "test"
    revision: str | None = None
    cache_dir: str | None = None
    source_column: str = "translation.en"
    reference_columns: Annotated[list[str], BeforeValidator(_as_list)] = Field(
        default_factory=lambda: ["translation.vi"], min_length=1
    )
    id_column: str | None = None  # default: the row index (0-based, as in `ds[i]`)
    join: HFJoin | None = None
    # Boolean columns that exclude a row when true (e.g. wmt24pp's is_bad_source); each
    # excluded row is reported.
    exclude_if: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_location(self) -> HFDataset:
        if (self.dataset is None) == (self.path is None):
            raise ValueError("give exactly one of `dataset` (a hub id) or `path` (a local folder)")
        if self.join is not None:
            if self.config is not None:
                raise ValueError(
                    "with `join`, name the configs in join.source_config/reference_config"
                )
            if self.id_column is not None or self.exclude_if:
                raise ValueError("with `join`, ids are the join column; drop id_column/exclude_if")
        return self


DatasetConfig = Annotated[
    BenchmarkDataset | InterleavedDataset | FilesDataset | TableDataset | HFDataset,
    Field(discriminator="kind"),
]


def _shorthand(value: Any) -> Any:
    """A bare string names a benchmark; a mapping with `benchmark:` needs no `kind:`."""
    if isinstance(value, str):
        return {"kind": "benchmark", "benchmark": value}
    if isinstance(value, dict) and "kind" not in value and "benchmark" in value:
        return {"kind": "benchmark", **value}
    return value


# For configs that list datasets: accepts the same shorthands as parse_dataset_entry.
DatasetEntry = Annotated[DatasetConfig, BeforeValidator(_shorthand)]


def parse_dataset_entry(value: str | dict[str, Any]) -> DatasetConfig:
    """Validate one dataset entry; a bare string is a benchmark name (``flores200:devtest``).

    Raises :class:`ConfigError` naming the key at fault (and a "did you mean" for a misspelt
    benchmark name).
    """
    from pydantic import TypeAdapter

    try:
        return TypeAdapter(DatasetEntry).validate_python(value)
    except ValidationError as e:
        problems = "; ".join(_describe(err) for err in e.errors())
        raise ConfigError(f"invalid dataset entry {value!r}: {problems}") from e


_KINDS = ("benchmark", "interleaved", "files", "table", "hf")


def _describe(err: Any) -> str:
    loc = list(err["loc"])
    if loc and loc[0] in _KINDS:  # the union's tag, not a key the user wrote
        loc = loc[1:]
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{'.'.join(str(p) for p in loc) or 'dataset'}: {msg}"


def default_name(cfg: DatasetConfig) -> str:
    """The name a dataset goes by when the config gives none."""
    if cfg.name:
        return cfg.name
    if isinstance(cfg, BenchmarkDataset):
        return cfg.benchmark
    if isinstance(cfg, FilesDataset):
        return Path(cfg.source).stem
    if isinstance(cfg, HFDataset):
        where = cfg.dataset or Path(cfg.path or "hf").name
        return f"{where}:{cfg.split}"
    return Path(cfg.path).stem
