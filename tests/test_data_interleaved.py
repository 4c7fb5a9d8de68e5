"""The interleaved-document parser, on the bundled ITU sample and on one-rule-each fixtures."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from harness.data import load_dataset, parse_dataset_entry
from harness.data.interleaved import (
    VI_THRESHOLD,
    classify_line,
    pair_lines,
    vietnamese_word_ratio,
)
from harness.errors import DatasetError

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "data"
SAMPLE = REPO / "harness" / "data" / "sample" / "itu-wtisd-2021.en-vi.txt"
SHARED = REPO.parent / "shared" / "data"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Related Video Clips", "en"),
        ("Driven by information and communication technologies.", "en"),
        ("Eduardo Rodríguez Veltzé rejected the idea.", "en"),  # accents only in names
        ("Xin tôn vinh Thomas.", "vi"),  # NTREX-128 ref 1982: short, one mark
        ("Ashê olên . It means in my language , thank you very much .", "en"),
        ("Thông qua sự phát triển của công nghệ thông tin.", "vi"),
        ("Không, không, không.", "vi"),  # circumflex only, no tone mark
        ("Đi", "vi"),  # đ does not decompose under NFD; it must still count
        ("2021", "none"),
        ("— 17/5 —", "none"),
    ],
)
def test_classify_line(text: str, language: str) -> None:
    assert classify_line(text) == language


def test_ratio_is_the_same_for_nfd_input() -> None:
    text = "Cảm ơn bạn rất nhiều"
    assert vietnamese_word_ratio(unicodedata.normalize("NFD", text)) == 1.0
    assert vietnamese_word_ratio("Thank you very much") == 0.0
    assert 0 < VI_THRESHOLD < 0.25


def test_bundled_sample_pairs_exactly() -> None:
    data = load_dataset(parse_dataset_entry("itu-wtisd-2021"), Path("."))
    assert data.name == "itu-wtisd-2021"
    assert [s.id for s in data.segments] == ["1", "4", "7", "10", "12"]
    assert data.segments[0].source.startswith("Driven by information")
    assert data.segments[0].references == (
        "Thông qua sự phát triển của công nghệ thông tin và truyền thông, xã hội của chúng ta "
        "đang trải qua quá trình chuyển đổi số để chuyển sang xã hội thông tin và kinh tế số.",
    )
    # Line 8 is the translation of line 7; line 9 is a second, partial translation that must
    # not be glued onto it.
    seven = data.segments[2]
    assert seven.references[0].startswith("Trong năm quyết định này")
    assert seven.references[0].endswith("là trung tâm của nền kinh tế số.")
    assert all("để củng cố" not in s.references[0] for s in data.segments)
    # Lines 10/11 and 12/13 follow each other with no blank line between the pairs.
    assert data.segments[3].references[0].startswith("Thời điểm này trong lịch sử")
    assert data.segments[4].references[0].startswith("Chúng tôi muốn nghe")


def test_bundled_sample_reports_every_unpaired_line() -> None:
    data = load_dataset(parse_dataset_entry("itu-wtisd-2021"), Path("."))
    report = data.report
    assert [(i.line, i.reason) for i in report.unpaired] == [
        (9, "Vietnamese line with no English line directly above it"),
        (15, "English line with no Vietnamese line after it"),
        (16, "English line with no Vietnamese line after it"),
        (17, "English line with no Vietnamese line after it"),
    ]
    assert report.unpaired[0].text.startswith("để củng cố các chiến lược quốc gia")
    assert report.unpaired[1].text == "Related Video Clips"
    assert report.unpaired[2].text.startswith("1. This is ITU (https://www.youtube.com/")
    assert all(i.file and i.file.endswith("itu-wtisd-2021.en-vi.txt") for i in report.unpaired)
    # Every non-blank line is accounted for: 5 pairs use 10 lines, 4 are reported.
    assert report.records_in == 14 == 2 * report.segments_out + len(report.unpaired)


def test_bundled_sample_repairs_and_notes() -> None:
    data = load_dataset(parse_dataset_entry("itu-wtisd-2021"), Path("."))
    # Lines 1, 7 and 10 hold no-break spaces; nothing else needs changing.
    assert dict(data.report.repairs) == {"nfc_or_spaces_sources": 3}
    assert all("\u00a0" not in s.source for s in data.segments)
    assert "I am calling on our members" in data.segments[3].source
    assert any("unbalanced curly quotes (ids 10, 12)" in n for n in data.report.notes)
    # The quotes are reported, not "fixed": the source keeps its opening curly quote.
    assert "“Connecting the unconnected" in data.segments[3].source


def test_bundled_sample_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="harness.data"):
        load_dataset(parse_dataset_entry("itu-wtisd-2021"), Path("."))
    warning = "\n".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "4 line(s)/record(s) not used" in warning
    assert "itu-wtisd-2021.en-vi.txt:9:" in warning and "itu-wtisd-2021.en-vi.txt:17:" in warning


def test_report_is_json_serializable() -> None:
    data = load_dataset(parse_dataset_entry("itu-wtisd-2021"), Path("."))
    blob = json.loads(json.dumps(data.report.to_json(), ensure_ascii=False))
    assert blob["unpaired"][0]["line"] == 9
    assert json.dumps(dict(data.provenance))  # provenance goes into results.json as-is
    assert data.provenance["kind"] == "benchmark"
    assert (
        data.provenance["sha256"] == __import__("hashlib").sha256(SAMPLE.read_bytes()).hexdigest()
    )


def test_each_pairing_rule(tmp_path: Path) -> None:
    cfg = parse_dataset_entry({"kind": "interleaved", "path": "interleaved.txt"})
    data = load_dataset(cfg, FIXTURES)
    assert [(s.id, s.source, s.references) for s in data.segments] == [
        ("1", "Hello everyone.", ("Xin chào mọi người.",)),
        ("8", "Thank you.", ("Cảm ơn.",)),
    ]
    assert [(i.line, i.reason.split(" ")[0]) for i in data.report.unpaired] == [
        (4, "English"),
        (6, "Vietnamese"),  # a blank line between English and Vietnamese breaks the pair
        (7, "line"),  # "2021": no letters
        (10, "Vietnamese"),  # a second Vietnamese line is not glued to the first
    ]
    assert data.report.repairs["crlf"] == 10
    assert data.name == "interleaved"


def test_pair_lines_direct() -> None:
    pairs, issues = pair_lines(("One.", "Một.", "Two.", "Three.", "Ba cái."), "doc")
    assert [(p.en_line, p.vi_line) for p in pairs] == [(1, 2), (4, 5)]
    assert [(i.line, i.text) for i in issues] == [(3, "Two.")]


def test_missing_file_names_it(tmp_path: Path) -> None:
    cfg = parse_dataset_entry({"kind": "interleaved", "path": "nope.txt"})
    with pytest.raises(DatasetError, match=r"nope\.txt: file not found"):
        load_dataset(cfg, tmp_path)


@pytest.mark.shared_data
def test_bundled_sample_is_the_shared_file() -> None:
    assert SAMPLE.read_bytes() == (SHARED / "itu-wtisd-2021.en-vi.txt").read_bytes()


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("ntrex128/newstest2019-src.eng.txt", "en"),
        ("ntrex128/newstest2019-ref.vie.txt", "vi"),
        ("iwslt15-tst2013/tst2013.en", "en"),
    ],
)
def test_classifier_on_real_test_sets(path: str, language: str) -> None:
    lines = (SHARED / path).read_text(encoding="utf-8-sig").splitlines()
    wrong = [line for line in lines if classify_line(line) not in (language, "none")]
    assert wrong == []
