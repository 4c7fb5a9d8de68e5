"""The dataset layer: every way of naming test data, loaded into one checked shape.

``load_dataset(cfg, base_dir)`` turns any :data:`~harness.data.config.DatasetConfig` into a
:class:`~harness.segments.LoadedDataset`: segments in input order, a load report that accounts
for every line or row read, and provenance for results.json.
"""

from __future__ import annotations

from pathlib import Path

from harness.data.base import DatasetSource
from harness.data.config import (
    BenchmarkDataset,
    DatasetConfig,
    FilesDataset,
    HFDataset,
    InterleavedDataset,
    TableDataset,
    default_name,
    parse_dataset_entry,
)
from harness.data.files import FilesSource
from harness.data.hf import HFSource, Location
from harness.data.interleaved import InterleavedSource
from harness.data.registry import (
    BENCHMARKS,
    BenchmarkInfo,
    build_benchmark_source,
    list_benchmarks,
    render_benchmark_table,
)
from harness.data.rows import ColumnMap
from harness.data.table import TableSource
from harness.data.validate import Options, finalize
from harness.errors import DatasetError
from harness.segments import LoadedDataset

__all__ = [
    "BenchmarkInfo",
    "DatasetSource",
    "build_source",
    "list_benchmarks",
    "load_dataset",
    "parse_dataset_entry",
    "render_benchmark_table",
]


def _path(base_dir: Path, value: str) -> Path:
    return base_dir / Path(value).expanduser()


def build_source(cfg: DatasetConfig, base_dir: Path) -> DatasetSource:
    """The source ``cfg`` describes; relative paths are taken from ``base_dir``."""
    match cfg:
        case BenchmarkDataset():
            return build_benchmark_source(cfg, base_dir)
        case InterleavedDataset():
            return InterleavedSource(_path(base_dir, cfg.path))
        case FilesDataset():
            refs = tuple(_path(base_dir, r) for r in cfg.references)
            return FilesSource(_path(base_dir, cfg.source), refs)
        case TableDataset():
            columns = ColumnMap(cfg.source_column, tuple(cfg.reference_columns), cfg.id_column)
            return TableSource(_path(base_dir, cfg.path), cfg.format, columns)
        case HFDataset():
            return _hf_source(cfg, base_dir)
    raise TypeError(f"not a dataset config: {cfg!r}")  # the union is closed; a new kind lands here


def _hf_source(cfg: HFDataset, base_dir: Path) -> HFSource:
    cache = _path(base_dir, cfg.cache_dir) if cfg.cache_dir else None
    if cfg.path is not None:
        location = Location(path=_path(base_dir, cfg.path), cache_dir=cache)
    else:
        location = Location(dataset=cfg.dataset, revision=cfg.revision, cache_dir=cache)
    columns = ColumnMap(
        cfg.source_column, tuple(cfg.reference_columns), cfg.id_column, tuple(cfg.exclude_if)
    )
    return HFSource(location, cfg.config, cfg.split, columns, cfg.join)


def load_dataset(
    cfg: DatasetConfig, base_dir: Path, config_key: str | None = None
) -> LoadedDataset:
    """Load, validate and normalize the dataset ``cfg`` names.

    Raises :class:`~harness.errors.DatasetError` for unusable data (naming the file and line,
    or the column; a missing file also by its config key, e.g. ``datasets[1].references[0]``,
    when ``config_key`` is given) and :class:`~harness.errors.ConfigError` for a config that
    cannot work (e.g. a non-redistributable benchmark without ``path:``).
    """
    if config_key is not None:
        _check_paths_exist(cfg, base_dir, config_key)
    raw = build_source(cfg, base_dir).load()
    raw.provenance = {"kind": cfg.kind, **_identity(cfg), **raw.provenance}
    options = Options(
        skip_empty=cfg.skip_empty,
        detokenize_references=cfg.detokenize_references,
        detokenize_source=cfg.detokenize_source,
        limit=cfg.limit,
        sample=cfg.sample,
        seed=cfg.seed,
        expected_size=BENCHMARKS[cfg.benchmark].size if isinstance(cfg, BenchmarkDataset) else None,
    )
    return finalize(raw, default_name(cfg), options)


def _identity(cfg: DatasetConfig) -> dict[str, object]:
    if isinstance(cfg, BenchmarkDataset):
        return {"benchmark": cfg.benchmark, "benchmark_origin": BENCHMARKS[cfg.benchmark].origin}
    return {}


def _check_paths_exist(cfg: DatasetConfig, base_dir: Path, key: str) -> None:
    """A missing file named with the key that names it: with several datasets (or several
    reference files) the path alone does not say which line of the config to fix."""
    paths: list[tuple[str, str | None]] = []
    if isinstance(cfg, FilesDataset):
        paths = [("source", cfg.source)]
        paths += [(f"references[{k}]", r) for k, r in enumerate(cfg.references)]
    elif isinstance(cfg, (InterleavedDataset, TableDataset, BenchmarkDataset, HFDataset)):
        paths = [("path", cfg.path)]
    for field_name, value in paths:
        if value is not None and not _path(base_dir, value).exists():
            raise DatasetError(
                f"{key}.{field_name}: {_path(base_dir, value)}: not found "
                f"(relative paths are taken from the config file's folder, {base_dir})"
            )
