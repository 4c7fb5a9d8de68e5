"""TSV, CSV and JSONL with named columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.data import load_dataset, parse_dataset_entry
from harness.errors import ConfigError, DatasetError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "data"


def table(path: str, base: Path = FIXTURES, **extra: object):
    return load_dataset(parse_dataset_entry({"kind": "table", "path": path, **extra}), base)


def test_tsv_with_id_and_two_reference_columns() -> None:
    data = table("ok.tsv", id_column="id", reference_columns=["vi", "vi_alt"])
    assert [s.id for s in data.segments] == ["s1", "s2", "s3"]
    assert data.segments[0].source == "Good morning."
    assert data.segments[0].references == ("Chào buổi sáng.", "CHÀO BUỔI SÁNG.")
    assert data.provenance["format"] == "tsv"
    assert data.provenance["columns"] == {
        "source_column": "en",
        "reference_columns[0]": "vi",
        "reference_columns[1]": "vi_alt",
        "id_column": "id",
    }


def test_default_ids_are_line_numbers() -> None:
    assert [s.id for s in table("ok.tsv").segments] == ["2", "3", "4"]


def test_missing_reference_column_lists_existing_columns() -> None:
    with pytest.raises(DatasetError) as err:
        table("ok.tsv", reference_columns=["vi_ref"])
    assert str(err.value) == (
        f"{FIXTURES / 'ok.tsv'}: reference_columns[0] names column 'vi_ref', which does not "
        "exist; columns: id, en, vi, vi_alt"
    )


def test_duplicate_ids_name_both_lines() -> None:
    with pytest.raises(
        DatasetError, match=r"duplicate segment id 'a': .*dup_id\.tsv:2 and .*dup_id\.tsv:4"
    ):
        table("dup_id.tsv", id_column="id")


def test_row_with_extra_field_names_the_line() -> None:
    with pytest.raises(DatasetError, match=r"ragged\.tsv:3: 3 fields, but the header has 2"):
        table("ragged.tsv")


def test_csv_quoted_cells_and_line_numbers() -> None:
    data = table("ok.csv")
    assert [(s.id, s.source, s.references[0]) for s in data.segments] == [
        ("2", "Hello, world.", "Xin chào, thế giới."),
        ("3", 'She said "hi".', 'Cô ấy nói "chào".'),
        ("4", "Two\nlines.", "Hai dòng."),  # a quoted cell spanning lines 4-5
    ]
    assert any("contain a line break" in n for n in data.report.notes)


def test_tsv_takes_quotes_literally(tmp_path: Path) -> None:
    (tmp_path / "q.tsv").write_text('en\tvi\n"Hi," she said.\t"Chào," cô nói.\n', "utf-8")
    assert table("q.tsv", tmp_path).segments[0].source == '"Hi," she said.'


def test_jsonl_nested_columns_and_blank_lines() -> None:
    data = table(
        "nested.jsonl",
        source_column="translation.en",
        reference_columns=["translation.vi"],
        id_column="meta.id",
    )
    assert [(s.id, s.source, s.references) for s in data.segments] == [
        ("7", "Good morning.", ("Chào buổi sáng.",)),
        ("8", "Thank you.", ("Cảm ơn.",)),
    ]
    assert data.report.records_in == 2


def test_jsonl_missing_column_lists_dotted_columns() -> None:
    with pytest.raises(
        DatasetError,
        match=r"nested\.jsonl:1: source_column names column 'en'.*"
        r"columns: translation\.en, translation\.vi, meta\.id",
    ):
        table("nested.jsonl")


def test_invalid_json_names_the_line() -> None:
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2: invalid JSON"):
        table("bad.jsonl")


def test_jsonl_value_that_is_not_text(tmp_path: Path) -> None:
    (tmp_path / "n.jsonl").write_text('{"en": "One.", "vi": ["Một."]}\n', "utf-8")
    with pytest.raises(
        DatasetError, match=r"n\.jsonl:1: reference_columns\[0\] column 'vi' holds list"
    ):
        table("n.jsonl", tmp_path)


def test_jsonl_null_reference_is_an_empty_reference(tmp_path: Path) -> None:
    (tmp_path / "n.jsonl").write_text('{"en": "One.", "vi": null}\n', "utf-8")
    with pytest.raises(DatasetError, match=r"n\.jsonl:1: empty reference"):
        table("n.jsonl", tmp_path)


def test_unknown_extension_asks_for_format(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("en\tvi\nOne.\tMột.\n", "utf-8")
    with pytest.raises(DatasetError, match="set `format:`"):
        table("x.txt", tmp_path)
    assert table("x.txt", tmp_path, format="tsv").segments[0].references == ("Một.",)


def test_header_problems(tmp_path: Path) -> None:
    (tmp_path / "d.tsv").write_text("en\ten\nOne.\tMột.\n", "utf-8")
    with pytest.raises(DatasetError, match=r"d\.tsv:1: the header names column 'en' twice"):
        table("d.tsv", tmp_path)
    (tmp_path / "e.csv").write_text("", "utf-8")
    with pytest.raises(DatasetError, match=r"e\.csv:1: expected a header row"):
        table("e.csv", tmp_path)


def test_unknown_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="reference_column: Extra inputs are not permitted"):
        parse_dataset_entry({"kind": "table", "path": "x.tsv", "reference_column": "vi"})
