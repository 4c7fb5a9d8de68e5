"""Line-aligned files and the validation every loader shares: one fixture per failure mode."""

from __future__ import annotations

import random
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.data import load_dataset, parse_dataset_entry
from harness.errors import DatasetError
from harness.segments import fingerprint
from harness.textnorm import normalize_boundary

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "data"
EN = ["Good morning.", "The weather is nice today.", "Thank you very much."]
VI = ["Chào buổi sáng.", "Hôm nay thời tiết đẹp.", "Cảm ơn bạn rất nhiều."]


def files(source: str, *refs: str, **extra: object):
    cfg = parse_dataset_entry(
        {"kind": "files", "source": source, "references": list(refs), **extra}
    )
    return load_dataset(cfg, FIXTURES)


def test_clean_files_load_in_order() -> None:
    data = files("ok.en", "ok.vi")
    assert [(s.id, s.source, s.references) for s in data.segments] == [
        (str(i), e, (v,)) for i, (e, v) in enumerate(zip(EN, VI, strict=True), start=1)
    ]
    assert data.report.records_in == data.report.segments_out == 3
    assert data.report.unpaired == () and dict(data.report.repairs) == {}
    assert data.name == "ok"
    prov = data.provenance
    assert prov["kind"] == "files"
    assert prov["source"]["path"].endswith("ok.en") and len(prov["source"]["sha256"]) == 64
    assert prov["references"][0]["path"].endswith("ok.vi")


def test_several_reference_files() -> None:
    data = files("ok.en", "ok.vi", "nfd.vi")
    assert [s.references for s in data.segments] == [(v, v) for v in VI]
    assert data.report.repairs["nfc_or_spaces_references"] == 3


def test_references_may_be_one_string() -> None:
    cfg = parse_dataset_entry({"kind": "files", "source": "ok.en", "references": "ok.vi"})
    assert load_dataset(cfg, FIXTURES).segments[0].references == (VI[0],)


def test_bom_is_accepted_and_counted() -> None:
    data = files("bom.en", "ok.vi")
    assert data.segments[0].source == "Good morning."
    assert data.report.repairs["bom"] == 1
    assert data.fingerprint == files("ok.en", "ok.vi").fingerprint


def test_crlf_is_accepted_and_counted() -> None:
    data = files("ok.en", "crlf.vi")
    assert [s.references[0] for s in data.segments] == VI
    assert data.report.repairs["crlf"] == 3


def test_nfd_is_normalized_and_counted() -> None:
    data = files("ok.en", "nfd.vi")
    assert all(unicodedata.is_normalized("NFC", s.references[0]) for s in data.segments)
    assert data.report.repairs["nfc_or_spaces_references"] == 3
    # Same text, same fingerprint: decomposed input is not "different data".
    assert data.fingerprint == files("ok.en", "ok.vi").fingerprint


def test_no_break_space_is_normalized_and_counted() -> None:
    data = files("nbsp.en", "ok.vi")
    assert data.segments[0].source == "Good morning."
    assert data.report.repairs["nfc_or_spaces_sources"] == 1


def test_invalid_utf8_names_file_and_line() -> None:
    with pytest.raises(
        DatasetError, match=r"invalid_utf8\.vi:2: invalid UTF-8 \(byte 2 of the line"
    ):
        files("ok.en", "invalid_utf8.vi")


def test_utf16_is_refused_with_advice() -> None:
    with pytest.raises(DatasetError, match=r"utf16\.vi: is UTF-16 .*save it as UTF-8"):
        files("ok.en", "utf16.vi")


def test_mismatched_line_counts_name_both_files_and_counts() -> None:
    with pytest.raises(DatasetError) as err:
        files("ok.en", "short.vi")
    message = str(err.value)
    assert "ok.en has 3 lines" in message and "short.vi has 2" in message


def test_empty_reference_is_an_error_naming_file_and_line() -> None:
    with pytest.raises(DatasetError, match=r"empty_line\.vi:2: empty reference \(segment id '2'\)"):
        files("ok.en", "empty_line.vi")


def test_skip_empty_drops_and_reports() -> None:
    data = files("ok.en", "empty_line.vi", skip_empty=True)
    assert [s.id for s in data.segments] == ["1", "3"]
    (issue,) = data.report.unpaired
    assert (issue.line, issue.reason, issue.text) == (2, "empty reference (skip_empty)", EN[1])
    assert issue.file is not None and issue.file.endswith("ok.en")
    assert data.report.records_in == len(data.segments) + len(data.report.unpaired)


def test_trailing_empty_pair_is_dropped_and_reported() -> None:
    data = files("blank_tail.en", "blank_tail.vi")
    assert len(data.segments) == 3
    (issue,) = data.report.unpaired
    assert issue.line == 4 and issue.reason == "empty pair at the end of the data (dropped)"
    assert data.report.records_in == 4


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"missing\.vi: file not found"):
        files("ok.en", "missing.vi")


def test_relative_paths_follow_base_dir(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.en").write_text("Hello.\n", encoding="utf-8")
    (tmp_path / "sub" / "a.vi").write_text("Xin chào.\n", encoding="utf-8")
    cfg = parse_dataset_entry({"kind": "files", "source": "sub/a.en", "references": ["sub/a.vi"]})
    assert load_dataset(cfg, tmp_path).segments[0].references == ("Xin chào.",)


def test_line_separators_inside_a_line_do_not_split_it(tmp_path: Path) -> None:
    # str.splitlines would cut at U+2028 and shift every later line against its reference.
    (tmp_path / "s.en").write_text("One\u2028still one.\nTwo.\n", encoding="utf-8")
    (tmp_path / "r.vi").write_text("Một.\nHai.\n", encoding="utf-8")
    cfg = parse_dataset_entry({"kind": "files", "source": "s.en", "references": ["r.vi"]})
    data = load_dataset(cfg, tmp_path)
    assert [s.references[0] for s in data.segments] == ["Một.", "Hai."]


def test_limit_keeps_the_first_segments() -> None:
    data = files("ok.en", "ok.vi", limit=2)
    assert [s.id for s in data.segments] == ["1", "2"]
    assert data.report.segments_out == 2 and data.report.records_in == 3
    assert data.provenance["subset"] == {"limit": 2, "of": 3}
    assert data.provenance["fingerprint_before_subset"] == files("ok.en", "ok.vi").fingerprint
    assert "limit: kept the first 2 of 3 segments" in data.report.notes


def test_sample_is_seeded_and_keeps_input_order(tmp_path: Path) -> None:
    n = 50
    (tmp_path / "s.en").write_text("".join(f"Sentence {i}.\n" for i in range(n)), "utf-8")
    (tmp_path / "r.vi").write_text("".join(f"Câu số {i}.\n" for i in range(n)), "utf-8")

    def load(seed: int):
        cfg = {"kind": "files", "source": "s.en", "references": ["r.vi"], "sample": 10}
        return load_dataset(parse_dataset_entry({**cfg, "seed": seed}), tmp_path)

    first, again, other = load(1), load(1), load(2)
    ids = [int(s.id) for s in first.segments]
    assert ids == sorted(ids) and len(ids) == 10
    # The subset is random.Random(seed).sample over positions, sorted: checked independently.
    assert ids == [i + 1 for i in sorted(random.Random(1).sample(range(n), 10))]
    assert first.fingerprint == again.fingerprint != other.fingerprint
    assert all(s.references[0] == f"Câu số {int(s.id) - 1}." for s in first.segments)
    assert first.provenance["subset"] == {"sample": 10, "seed": 1, "of": 50}


def test_sample_larger_than_data_keeps_everything() -> None:
    data = files("ok.en", "ok.vi", sample=10)
    assert len(data.segments) == 3
    assert "sample: asked for 10, the data has 3; kept all" in data.report.notes


def test_fingerprint_is_sha256_over_normalized_pairs() -> None:
    data = files("ok.en", "ok.vi")
    assert data.fingerprint == fingerprint(data.segments)
    assert len(data.fingerprint) == 64
    # Boundary-normalized differences (a no-break space) do not change it.
    assert files("nbsp.en", "ok.vi").fingerprint == data.fingerprint


def test_fingerprint_is_one_sorted_key_json_line_per_pair() -> None:
    """The definition results.json fingerprints were made with, written the slow way; more
    than one hashing block of pairs, with quotes, backslashes, newlines and Vietnamese."""
    import hashlib
    import json

    from harness.segments import Segment

    rng = random.Random(7)
    alphabet = 'aá ệ"\\\n\u00a0xyzđ'
    segments = [
        Segment(
            str(i),
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))),
            tuple(f"ref {i}.{k} {VI[k % len(VI)]}" for k in range(rng.randint(1, 3))),
        )
        for i in range(2500)
    ]
    expected = hashlib.sha256()
    for seg in segments:
        line = {"id": seg.id, "source": seg.source, "references": list(seg.references)}
        expected.update(json.dumps(line, ensure_ascii=False, sort_keys=True).encode() + b"\n")
    assert fingerprint(segments) == expected.hexdigest()
    assert fingerprint([]) == hashlib.sha256(b"").hexdigest()


def test_fingerprint_changes_with_one_character(tmp_path: Path) -> None:
    (tmp_path / "a.en").write_bytes((FIXTURES / "ok.en").read_bytes())
    (tmp_path / "a.vi").write_text("\n".join([VI[0], VI[1], "Cảm ơn bạn rất nhiều!"]), "utf-8")
    cfg = parse_dataset_entry({"kind": "files", "source": "a.en", "references": ["a.vi"]})
    assert load_dataset(cfg, tmp_path).fingerprint != files("ok.en", "ok.vi").fingerprint


_TEXT = st.text(
    alphabet=st.characters(
        codec="utf-8",
        categories=("L", "M", "N", "P", "Zs"),  # letters, marks, digits, punctuation, spaces
        exclude_characters="\ufeff",
    ),
    min_size=1,
    max_size=30,
).filter(lambda t: unicodedata.normalize("NFC", t).strip(" \u00a0\u2000\u2009\u3000") != "")


@settings(max_examples=40, deadline=None)
@given(pairs=st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=12), crlf=st.booleans())
def test_every_line_arrives_once_in_order(pairs: list[tuple[str, str]], crlf: bool) -> None:
    end = "\r\n" if crlf else "\n"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "s.en").write_text("".join(s + end for s, _ in pairs), "utf-8", newline="")
        (folder / "r.vi").write_text("".join(r + end for _, r in pairs), "utf-8", newline="")
        cfg = parse_dataset_entry({"kind": "files", "source": "s.en", "references": ["r.vi"]})
        try:
            data = load_dataset(cfg, folder)
        except DatasetError as e:  # only an empty text after normalization may be refused
            assert "empty" in str(e)
            return
    assert data.report.records_in == len(pairs) == len(data.segments)
    assert [s.id for s in data.segments] == [str(i) for i in range(1, len(pairs) + 1)]
    for seg, (src, ref) in zip(data.segments, pairs, strict=True):
        assert seg.source == normalize_boundary(src).strip()
        assert seg.references == (normalize_boundary(ref).strip(),)


def test_no_segments_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "e.en").write_bytes(b"")
    (tmp_path / "e.vi").write_bytes(b"")
    cfg = parse_dataset_entry({"kind": "files", "source": "e.en", "references": ["e.vi"]})
    with pytest.raises(DatasetError) as caught:
        load_dataset(cfg, tmp_path)
    # The files are named: "dataset 'e'" alone did not say which of a run's files was empty.
    assert str(caught.value) == (
        f"dataset 'e': no segments could be loaded from {tmp_path / 'e.en'}, "
        f"{tmp_path / 'e.vi'} (0 records read, 0 unusable: -); it is empty"
    )
    (tmp_path / "doc.txt").write_text("Only English here.\n", "utf-8")
    cfg = parse_dataset_entry({"kind": "interleaved", "path": "doc.txt"})
    with pytest.raises(
        DatasetError, match=r"1 unusable: .*doc\.txt:1: English line with no Vietnamese"
    ):
        load_dataset(cfg, tmp_path)


def test_nul_bytes_are_noted_with_count_and_lines(tmp_path: Path) -> None:
    (tmp_path / "n.en").write_bytes(b"fine\nnul\x00here\nalso\x00\x00\n")
    (tmp_path / "n.vi").write_bytes("tốt\nở đây\ncũng\n".encode())
    cfg = parse_dataset_entry({"kind": "files", "source": "n.en", "references": ["n.vi"]})
    data = load_dataset(cfg, tmp_path)
    assert [s.source for s in data.segments] == ["fine", "nul\x00here", "also\x00\x00"]
    src = tmp_path / "n.en"
    assert (
        f"3 NUL byte(s) in 2 segment(s) ({src}:2, {src}:3); left as they are" in data.report.notes
    )
    assert data.report.to_json()["notes"] == list(data.report.notes)  # into results.json
