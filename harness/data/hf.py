"""Hugging Face ``datasets`` sources: a hub id, a local dataset folder, or a save_to_disk folder.

``datasets`` is imported inside the functions that need it (about 1.7 s), so modules that only
list benchmarks or score runs start fast. Every way ``datasets`` reports "cannot get this"
(offline, gated, missing, unknown split) becomes a :class:`DatasetError` that says what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from harness.data.base import RawLoad, RawRecord
from harness.data.config import HFJoin
from harness.data.rows import (
    ColumnMap,
    Row,
    check_columns,
    map_row,
    require_columns,
    rows_to_load,
)
from harness.errors import DatasetError
from harness.segments import LoadIssue

if TYPE_CHECKING:
    from datasets import Dataset

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Location:
    """Where a dataset lives: exactly one of a hub id or a local folder."""

    dataset: str | None = None
    path: Path | None = None
    revision: str | None = None
    cache_dir: Path | None = None

    def describe(self, config: str | None, split: str) -> str:
        name = self.dataset if self.dataset is not None else str(self.path)
        parts = ([f"config {config!r}"] if config else []) + [f"split {split!r}"]
        return f"dataset {name!r} ({', '.join(parts)})"

    def provenance(self) -> dict[str, Any]:
        import datasets

        out: dict[str, Any] = {"datasets_version": datasets.__version__}
        if self.dataset is not None:
            out.update(hub_id=self.dataset, revision=self.revision)
        else:
            out["path"] = str(self.path)
        return out


def _is_saved(folder: Path) -> bool:
    """A folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    return (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file()


def open_split(loc: Location, config: str | None, split: str) -> tuple[Dataset, str]:
    """Load one split; returns it and how it was found (``hub``, ``disk`` or ``folder``).

    A local folder may be a ``save_to_disk`` folder, hold one per config (``<path>/<config>``,
    e.g. FLORES+ ``eng_Latn``), or be a dataset folder ``datasets.load_dataset`` reads (a hub
    snapshot with its README configs, or plain data files).
    """
    import datasets

    what = loc.describe(config, split)
    cache = str(loc.cache_dir) if loc.cache_dir else None
    if loc.path is None:
        return _guard(
            lambda: datasets.load_dataset(
                loc.dataset, name=config, split=split, revision=loc.revision, cache_dir=cache
            ),
            what,
            loc,
        ), "hub"
    if not loc.path.is_dir():
        raise DatasetError(f"{loc.path}: folder not found ({what})")
    for folder in ([loc.path / config] if config else []) + [loc.path]:
        if _is_saved(folder):
            return _from_disk(folder, split, what), "disk"
    return _guard(
        lambda: datasets.load_dataset(str(loc.path), name=config, split=split, cache_dir=cache),
        what,
        loc,
    ), "folder"


def _from_disk(folder: Path, split: str, what: str) -> Dataset:
    import datasets

    try:
        saved = datasets.load_from_disk(str(folder))
    except (OSError, ValueError) as e:
        raise DatasetError(f"{folder}: cannot read the save_to_disk folder ({what}): {e}") from e
    if isinstance(saved, datasets.DatasetDict):
        if split not in saved:
            raise DatasetError(
                f"{folder}: has no split {split!r} ({what}); splits: {', '.join(saved)}"
            )
        return saved[split]
    # A single saved Dataset carries no split name; the folder stands for the split asked for.
    return saved


def _guard(fn: Callable[[], T], what: str, loc: Location) -> T:
    """Run a ``datasets`` call, turning its failures into DatasetErrors that say what to do."""
    from datasets.exceptions import DatasetNotFoundError

    try:
        return fn()
    except DatasetNotFoundError as e:
        if "gated" in str(e):
            raise DatasetError(_gated_message(what, loc)) from e
        raise DatasetError(
            f"{what} does not exist on the hub or cannot be accessed ({e}); check the id, "
            "or pass a local copy with `path:`"
        ) from e
    except ConnectionError as e:
        raise DatasetError(_offline_message(what)) from e
    except RuntimeError as e:
        if "scripts are no longer supported" not in str(e):
            raise
        raise DatasetError(
            f"{what} needs a loading script, which datasets>=4 no longer runs; use a parquet "
            "version of it, or pass a local copy with `path:`"
        ) from e
    except (OSError, ValueError) as e:  # unknown config or split, unreadable data files
        raise DatasetError(f"cannot load {what}: {e}") from e


def _offline_message(what: str) -> str:
    import datasets.config

    from harness.hub import offline_reason

    why = offline_reason()
    return (
        f"{what} is not in the local cache and the hub cannot be reached ({why}). "
        "Load it once on a connected machine and copy its datasets cache (here "
        f"{datasets.config.HF_DATASETS_CACHE}, set by HF_HOME or HF_DATASETS_CACHE) to this one, "
        "or save the split there with `save_to_disk` and pass that folder with `path:`"
    )


def _gated_message(what: str, loc: Location) -> str:
    return (
        f"{what} is gated on the hub: accept its terms at "
        f"https://huggingface.co/datasets/{loc.dataset} while logged in, then run "
        "`hf auth login` (or set HF_TOKEN) here; or pass a local copy with `path:`"
    )


def feature_columns(features: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Column names of a ``datasets.Features``, nested ones dotted (``translation.vi``)."""
    import datasets

    names: list[str] = []
    for name, feature in features.items():
        if isinstance(feature, Mapping):
            names.extend(feature_columns(feature, prefix=f"{prefix}{name}."))
        elif isinstance(feature, datasets.Translation):
            names.extend(f"{prefix}{name}.{lang}" for lang in feature.languages)
        else:
            names.append(f"{prefix}{name}")
    return names


@dataclass(frozen=True)
class HFSource:
    """One split of a hub or local dataset, mapped to segments by named columns."""

    location: Location
    config: str | None
    split: str
    columns: ColumnMap
    join: HFJoin | None = None

    def input_files(self) -> None:
        """None: what a hub or arrow copy holds is not a few files whose stamps say it all."""
        return None

    def load(self) -> RawLoad:
        if self.join is not None:
            return self._load_joined(self.join)
        ds, found = open_split(self.location, self.config, self.split)
        label = self.location.describe(self.config, self.split)
        check_columns(feature_columns(ds.features), self.columns, label)
        rows = (
            Row(row, str(i), f"{label} row {i}", file=f"{label} row {i}")
            for i, row in enumerate(ds.to_list())
        )
        load = rows_to_load(rows, self.columns)
        load.provenance.update(
            self.location.provenance(), config=self.config, split=self.split, loaded_from=found
        )
        load.provenance["columns"] = dict(self.columns.named())
        return load

    def _load_joined(self, join: HFJoin) -> RawLoad:
        src, found = open_split(self.location, join.source_config, self.split)
        ref, _ = open_split(self.location, join.reference_config, self.split)
        src_label = self.location.describe(join.source_config, self.split)
        ref_label = self.location.describe(join.reference_config, self.split)
        src_map = ColumnMap(source=self.columns.source, references=(), id=join.key)
        refs_only = self.columns.references
        ref_map = ColumnMap(source=refs_only[0], references=refs_only, id=join.key)
        key = ("join.key", join.key)
        wanted_src = [("source_column", self.columns.source), key]
        wanted_ref = [*((f"reference_columns[{i}]", c) for i, c in enumerate(refs_only)), key]
        require_columns(feature_columns(src.features), wanted_src, src_label)
        require_columns(feature_columns(ref.features), wanted_ref, ref_label)
        refs = _index_by(ref.to_list(), ref_map, ref_label)
        load = RawLoad(records=[], records_in=len(src) + len(ref))
        seen: set[str] = set()
        for i, row in enumerate(src.to_list()):
            rec = map_row(row, src_map, str(i), f"{src_label} row {i}")
            if rec.id in seen:
                raise DatasetError(f"{src_label} row {i}: {join.key} {rec.id!r} occurs twice")
            seen.add(rec.id)
            match = refs.pop(rec.id, None)
            if match is None:
                load.unpaired.append(_unmatched(rec, "source", join.key, ref_label))
                continue
            load.records.append(
                RawRecord(rec.id, rec.source, match.references, rec.where, file=rec.where)
            )
            load.records_in -= 1  # the pair used a row from each side: count it once
        load.unpaired.extend(_unmatched(r, "reference", join.key, src_label) for r in refs.values())
        load.provenance.update(self.location.provenance(), split=self.split, loaded_from=found)
        load.provenance["join"] = join.model_dump()
        load.provenance["columns"] = dict(self.columns.named())
        return load


def _index_by(rows: list[dict[str, Any]], cmap: ColumnMap, label: str) -> dict[str, RawRecord]:
    index: dict[str, RawRecord] = {}
    for i, row in enumerate(rows):
        rec = map_row(row, cmap, str(i), f"{label} row {i}")
        if rec.id in index:
            raise DatasetError(f"{rec.where}: {cmap.id} {rec.id!r} occurs twice")
        index[rec.id] = rec
    return index


def _unmatched(rec: RawRecord, side: str, key: str, other: str) -> LoadIssue:
    text = rec.source if side == "source" else rec.references[0]
    reason = f"{side} row with {key} {rec.id!r} has no match in {other}"
    return LoadIssue(reason=reason, text=text, file=rec.where)
