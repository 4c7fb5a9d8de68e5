"""The dataset memo: a rerun on unchanged files reads the loaded dataset back, and any change
to a file (or to the config that names it) loads it again."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from harness.data import load_dataset, parse_dataset_entry
from harness.data import memo as data_memo
from harness.data.files import FilesSource
from harness.data.rows import ColumnMap
from harness.data.table import TableSource
from harness.segments import LoadedDataset

EN = ["Good morning.", "A “quoted word.", "Thank you very much.", "Good morning."]
VI = ["Chào buổi sáng.", "Một “từ.", "Cảm ơn bạn rất nhiều.", "Chào\u00a0buổi sáng."]


def _write(folder: Path) -> None:
    (folder / "t.en").write_text("\n".join(EN) + "\n", "utf-8")
    (folder / "t.vi").write_text("\n".join(VI) + "\n", "utf-8")


def _load(folder: Path, memo: Path | None, **extra: object) -> LoadedDataset:
    entry = {"kind": "files", "source": "t.en", "references": ["t.vi"], **extra}
    return load_dataset(parse_dataset_entry(entry), folder, "datasets[0]", memo)


def _same(a: LoadedDataset, b: LoadedDataset) -> None:
    assert a.name == b.name
    assert a.segments == b.segments
    assert a.report == b.report
    assert dict(a.provenance) == dict(b.provenance)
    assert a.fingerprint == b.fingerprint


@pytest.fixture()
def count_reads(count_calls) -> list[int]:
    """How many times a files dataset was really read."""
    return count_calls(FilesSource, "load")


def test_a_rerun_reads_the_remembered_dataset(tmp_path: Path, count_reads: list[int]) -> None:
    _write(tmp_path)
    memo = tmp_path / "cache" / "datasets"
    fresh = _load(tmp_path, memo)
    again = _load(tmp_path, memo)
    assert count_reads[0] == 1
    _same(again, fresh)
    _same(again, _load(tmp_path, None))  # and both equal a load without any memo
    assert fresh.report.repairs == {"nfc_or_spaces_references": 1}
    assert len(list(memo.glob("*.json"))) == 1


def test_the_load_notes_are_logged_from_the_memo_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path)
    memo = tmp_path / "memo"
    with caplog.at_level(logging.INFO, logger="harness"):
        _load(tmp_path, memo)
        first = [r.getMessage() for r in caplog.records]
        caplog.clear()
        _load(tmp_path, memo)
        second = [r.getMessage() for r in caplog.records]
    assert any("unbalanced curly quotes" in m for m in first)
    assert second == first


def test_a_file_rewritten_with_the_same_size_and_mtime_is_read_again(
    tmp_path: Path, count_reads: list[int]
) -> None:
    _write(tmp_path)
    memo = tmp_path / "memo"
    _load(tmp_path, memo)
    ref = tmp_path / "t.vi"
    before = os.stat(ref)
    ref.write_text("\n".join(["Chào buổi sánG.", *VI[1:]]) + "\n", "utf-8")  # same length
    os.utime(ref, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back
    assert os.stat(ref).st_size == before.st_size
    changed = _load(tmp_path, memo)
    assert count_reads[0] == 2
    assert changed.segments[0].references == ("Chào buổi sánG.",)
    assert len(list(memo.glob("*.json"))) == 1  # the entry was replaced, not added to


def test_another_config_of_the_same_files_is_its_own_entry(tmp_path: Path) -> None:
    _write(tmp_path)
    memo = tmp_path / "memo"
    full = _load(tmp_path, memo)
    limited = _load(tmp_path, memo, limit=2)
    assert len(full.segments) == 4 and len(limited.segments) == 2
    assert len(_load(tmp_path, memo, limit=2).segments) == 2
    assert len(_load(tmp_path, memo).segments) == 4
    assert len(list(memo.glob("*.json"))) == 2


def test_a_damaged_entry_is_ignored_and_replaced(tmp_path: Path, count_reads: list[int]) -> None:
    _write(tmp_path)
    memo = tmp_path / "memo"
    fresh = _load(tmp_path, memo)
    (entry,) = memo.glob("*.json")
    for damage in ("{not json", '{"files": 3}', entry.read_text("utf-8")[:-40]):
        entry.write_text(damage, "utf-8")
        _same(_load(tmp_path, memo), fresh)
    assert count_reads[0] == 4
    _same(_load(tmp_path, memo), fresh)  # the last load wrote a good entry again
    assert count_reads[0] == 4


def test_an_unwritable_memo_folder_changes_nothing(tmp_path: Path) -> None:
    _write(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", "utf-8")  # a folder cannot be made below a file, even by root
    _same(_load(tmp_path, blocker / "datasets"), _load(tmp_path, None))


def test_the_code_that_loads_is_part_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {"kind": "files", "source": "t.en", "references": ["t.vi"]}
    here = data_memo.entry_path(tmp_path, config, tmp_path)
    monkeypatch.setattr(data_memo, "_code_digest", lambda: "an edited checker")
    assert data_memo.entry_path(tmp_path, config, tmp_path) != here


def test_sources_name_the_files_they_read(tmp_path: Path) -> None:
    assert FilesSource(tmp_path / "a", (tmp_path / "b",)).input_files() == (
        tmp_path / "a",
        tmp_path / "b",
    )
    columns = ColumnMap("en", ("vi",))
    assert TableSource(tmp_path / "t.tsv", None, columns).input_files() == (tmp_path / "t.tsv",)


def test_a_missing_file_is_not_stamped(tmp_path: Path) -> None:
    assert data_memo.file_stamps([tmp_path / "gone"]) is None
