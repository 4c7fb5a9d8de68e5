"""IWSLT'15 English-Vietnamese (tst2012, tst2013), from the hub or from the original files.

The hub's ``IWSLT/mt_eng_vietnamese`` was built by a script with a copy-paste slip: its
validation split downloads tst2013 (not tst2012), so validation and test hold the same 1,268
pairs. Its reader splits on "\\n", so each split ends in an empty pair, and the first pair keeps
the files' byte-order mark. The text is Moses-tokenized with HTML escapes.

This source checks for each of these and reports them: asking for tst2012 from a copy whose
validation equals its test split is an error (the numbers would silently be tst2013's); the
empty trailing pair and the BOM are removed by validation and counted there; the escapes are
reported, and undone only with ``detokenize_references``/``detokenize_source``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.data.base import RawLoad
from harness.data.files import FilesSource
from harness.data.hf import HFSource, Location
from harness.data.rows import ColumnMap
from harness.errors import DatasetError

HUB_ID = "IWSLT/mt_eng_vietnamese"
HUB_CONFIG = "iwslt2015-en-vi"
SPLITS = {"tst2012": "validation", "tst2013": "test"}  # what the hub calls them
COLUMNS = ColumnMap(source="translation.en", references=("translation.vi",))


@dataclass(frozen=True)
class IwsltSource:
    """``test_set`` is ``tst2012`` or ``tst2013``; ``location`` is the hub or a local folder.

    A local folder holding ``<test_set>.en`` and ``<test_set>.vi`` (the Stanford release) is
    read as line-aligned files; any other folder as a hub copy (save_to_disk or snapshot).
    """

    test_set: str
    location: Location

    def input_files(self) -> tuple[Path, ...] | None:
        """The Stanford files when a local folder holds them; None for a hub copy."""
        folder = self.location.path
        if folder is None:
            return None
        en, vi = folder / f"{self.test_set}.en", folder / f"{self.test_set}.vi"
        return (en, vi) if en.is_file() and vi.is_file() else None

    def load(self) -> RawLoad:
        folder = self.location.path
        if folder is not None:
            en, vi = folder / f"{self.test_set}.en", folder / f"{self.test_set}.vi"
            if en.is_file() or vi.is_file():
                load = FilesSource(en, (vi,)).load()
                load.provenance["layout"] = "stanford files"
                return load
            others = sorted(p.name for p in folder.glob("*.en"))
            if others:  # the Stanford layout, but another test set
                raise DatasetError(
                    f"{folder}: no {en.name} here (found {', '.join(others)}); point `path:` "
                    f"at the folder that holds {en.name} and {vi.name}"
                )
        split = SPLITS[self.test_set]
        load = HFSource(self.location, HUB_CONFIG, split, COLUMNS).load()
        self._check_splits(load, split)
        return load

    def _check_splits(self, load: RawLoad, split: str) -> None:
        other_split = "test" if split == "validation" else "validation"
        try:
            other = HFSource(self.location, HUB_CONFIG, other_split, COLUMNS).load()
        except DatasetError:
            load.notes.append(f"iwslt: could not load the {other_split} split to compare")
            return
        same = [(r.source, r.references) for r in load.records] == [
            (r.source, r.references) for r in other.records
        ]
        load.provenance["validation_equals_test"] = same
        if same and self.test_set == "tst2012":
            raise DatasetError(
                f"{self.location.describe(HUB_CONFIG, split)}: the validation split is a copy of "
                "the test split (tst2013), a known bug of the hub loader, so tst2012 is not "
                "available from it. Pass the original files with `path:` (a folder holding "
                "tst2012.en and tst2012.vi)"
            )
        if same:
            load.notes.append(
                "iwslt: the hub's validation split is a copy of this test split (tst2013), a "
                "known bug of its loader; tst2012 cannot be had from this source"
            )
