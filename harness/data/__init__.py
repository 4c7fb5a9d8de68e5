"""The dataset layer: every way of naming test data, loaded into one checked shape.

``load_dataset(cfg, base_dir)`` turns any :data:`~harness.data.config.DatasetConfig` into a
:class:`~harness.segments.LoadedDataset`: segments in input order, a load report that accounts
for every line or row read, and provenance for results.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from harness.errors import DatasetError
from harness.segments import LoadedDataset

if TYPE_CHECKING:
    from harness.data.base import DatasetSource
    from harness.data.hf import HFSource

__all__ = [
    "BenchmarkInfo",
    "DatasetSource",
    "build_source",
    "list_benchmarks",
    "load_dataset",
    "parse_dataset_entry",
    "render_benchmark_table",
]

# Each reader (and the benchmark registry, which imports them all) is imported when a config
# names it: the config models import this package, and a run that reads two text files should
# not load the readers of tables, hub data sets and IWSLT archives.
_LAZY = {
    "BENCHMARKS": "harness.data.registry",
    "BenchmarkInfo": "harness.data.registry",
    "build_benchmark_source": "harness.data.registry",
    "list_benchmarks": "harness.data.registry",
    "render_benchmark_table": "harness.data.registry",
    "DatasetSource": "harness.data.base",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _path(base_dir: Path, value: str) -> Path:
    return base_dir / Path(value).expanduser()


def build_source(cfg: DatasetConfig, base_dir: Path) -> DatasetSource:
    """The source ``cfg`` describes; relative paths are taken from ``base_dir``."""
    match cfg:
        case BenchmarkDataset():
            from harness.data.registry import build_benchmark_source

            return build_benchmark_source(cfg, base_dir)
        case InterleavedDataset():
            from harness.data.interleaved import InterleavedSource

            return InterleavedSource(_path(base_dir, cfg.path))
        case FilesDataset():
            from harness.data.files import FilesSource

            refs = tuple(_path(base_dir, r) for r in cfg.references)
            return FilesSource(_path(base_dir, cfg.source), refs)
        case TableDataset():
            from harness.data.rows import ColumnMap
            from harness.data.table import TableSource

            columns = ColumnMap(cfg.source_column, tuple(cfg.reference_columns), cfg.id_column)
            return TableSource(_path(base_dir, cfg.path), cfg.format, columns)
        case HFDataset():
            return _hf_source(cfg, base_dir)
    raise TypeError(f"not a dataset config: {cfg!r}")  # the union is closed; a new kind lands here


def _hf_source(cfg: HFDataset, base_dir: Path) -> HFSource:
    from harness.data.hf import HFSource, Location
    from harness.data.rows import ColumnMap

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
    cfg: DatasetConfig,
    base_dir: Path,
    config_key: str | None = None,
    memo_dir: Path | None = None,
) -> LoadedDataset:
    """Load, validate and normalize the dataset ``cfg`` names.

    Raises :class:`~harness.errors.DatasetError` for unusable data (naming the file and line,
    or the column; a missing file also by its config key, e.g. ``datasets[1].references[0]``,
    when ``config_key`` is given) and :class:`~harness.errors.ConfigError` for a config that
    cannot work (e.g. a non-redistributable benchmark without ``path:``).

    ``memo_dir``: where datasets read from files are remembered while those files stay as
    they were (see :mod:`harness.data.memo`); a rerun on unchanged files reads the result.
    """
    if config_key is not None:
        _check_paths_exist(cfg, base_dir, config_key)
    source = build_source(cfg, base_dir)
    memo = _memo(source, cfg, base_dir, memo_dir)
    if memo is not None:
        from harness.data.memo import recall

        known = recall(*memo)
        if known is not None:
            from harness.data.validate import log_report

            log_report(known.name, known.report)
            return known
    from harness.data.validate import Options, finalize

    raw = source.load()
    raw.provenance = {"kind": cfg.kind, **_identity(cfg), **raw.provenance}
    options = Options(
        skip_empty=cfg.skip_empty,
        detokenize_references=cfg.detokenize_references,
        detokenize_source=cfg.detokenize_source,
        limit=cfg.limit,
        sample=cfg.sample,
        seed=cfg.seed,
        expected_size=_benchmark(cfg).size if isinstance(cfg, BenchmarkDataset) else None,
    )
    data = finalize(raw, default_name(cfg), options)
    if memo is not None:
        from harness.data.memo import remember

        remember(*memo, data)
    return data


def _memo(
    source: DatasetSource, cfg: DatasetConfig, base_dir: Path, memo_dir: Path | None
) -> tuple[Path, list[list[Any]]] | None:
    """The memo entry of this dataset and its files' stamps, taken before they are read (a
    file changed while being read then fails to match next time); None: not remembered."""
    if memo_dir is None:
        return None
    files = source.input_files()
    if files is None:
        return None
    from harness.data.memo import entry_path, file_stamps

    stamps = file_stamps(files)
    if stamps is None:
        return None
    return entry_path(memo_dir, cfg.model_dump(mode="json"), base_dir), stamps


def _benchmark(cfg: BenchmarkDataset) -> Any:
    from harness.data.registry import BENCHMARKS

    return BENCHMARKS[cfg.benchmark]


def _identity(cfg: DatasetConfig) -> dict[str, object]:
    if isinstance(cfg, BenchmarkDataset):
        return {"benchmark": cfg.benchmark, "benchmark_origin": _benchmark(cfg).origin}
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
