"""Moses detection and detokenization, and IWSLT'15 loaded from its original files."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.data import load_dataset, parse_dataset_entry
from harness.data.moses import detokenize, moses_signals, unescape
from harness.errors import DatasetError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.parametrize(
    ("tokenized", "lang", "expected"),
    [
        # Expected outputs written by hand from the rules of Moses' detokenizer.perl.
        (
            "I grew up singing a song called &quot; Nothing To Envy . &quot;",
            "en",
            'I grew up singing a song called "Nothing To Envy."',
        ),
        ("We don &apos;t know , do we ?", "en", "We don't know, do we?"),
        ("It &apos;s the students &apos; money .", "en", "It's the students' money."),
        ("They ca n&apos;t go ( not yet ) !", "en", "They can't go (not yet)!"),
        ("the &#91; data &#93; &amp; the code &#124; 50 %", "en", "the [data] & the code | 50%"),
        ("It costs $ 5 ...", "en", "It costs $5..."),
        ("state @-@ of @-@ the @-@ art", "en", "state-of-the-art"),
        ("Tôi hỏi , &quot; Có chuyện gì vậy ? &quot;", "vi", 'Tôi hỏi, "Có chuyện gì vậy?"'),
        # A quote that ends the line closes one opened on an earlier line (TED transcripts).
        (
            "Nó không phải là người Bắc Triều Tiên . &quot;",
            "vi",
            'Nó không phải là người Bắc Triều Tiên."',
        ),
        ("&quot; &apos; Tôi đang giúp . &quot;", "vi", '"\'Tôi đang giúp."'),
        ("Already clean text.", "en", "Already clean text."),
        ("in the &apos;90s", "en", "in the '90s"),  # not a clitic: a digit follows
    ],
)
def test_detokenize(tokenized: str, lang: str, expected: str) -> None:
    assert detokenize(tokenized, lang) == expected


def test_escaped_ampersand_is_unescaped_once() -> None:
    # "&amp;quot;" is the text "&quot;" escaped: it must not become a quote character.
    assert unescape("&amp;quot; &amp;amp;") == "&quot; &amp;"


def test_english_clitics_only_in_english() -> None:
    assert detokenize("Apple &apos;s", "en") == "Apple's"
    assert detokenize("chữ &apos;s", "vi") == "chữ 's"


def test_signals() -> None:
    signals = moses_signals(["Hello , world .", "A &quot; quote &quot; .", "Natural text."])
    assert (signals.total, signals.tokenized) == (3, 2)
    assert signals.escapes == {"&quot;": 2}
    assert signals.looks_tokenized
    note = signals.describe("references", "detokenize_references")
    assert note == (
        "references: 2 of 3 look Moses-tokenized; HTML escapes: &quot; x2; "
        "set `detokenize_references: true` to unescape and detokenize"
    )
    assert moses_signals(["Natural text, as written.", "Another one."]).describe("x", "f") is None


def iwslt(**extra: object):
    cfg = parse_dataset_entry({"benchmark": "iwslt15-en-vi:tst2013", "path": "iwslt", **extra})
    return load_dataset(cfg, FIXTURES)


def test_iwslt_files_are_reported_not_changed() -> None:
    data = iwslt()
    assert len(data.segments) == 4
    assert data.report.repairs["bom"] == 2  # both files start with one
    assert data.segments[0].source.startswith("When I was little , I thought")  # BOM gone
    assert data.segments[0].references[0].endswith("ghen tị . &quot;")  # left as it is
    notes = "\n".join(data.report.notes)
    assert "references: 4 of 4 look Moses-tokenized" in notes
    assert "&quot; x2" in notes and "`detokenize_references: true`" in notes
    assert "expected 1268 segments (the full set), found 4" in notes
    assert data.provenance["detokenize_references"] is False
    assert data.provenance["layout"] == "stanford files"


def test_iwslt_detokenized_on_request() -> None:
    data = iwslt(detokenize_references=True, detokenize_source=True)
    assert data.segments[0].references[0].endswith('bài "Chúng ta chẳng có gì phải ghen tị."')
    assert (
        data.segments[2].references[0]
        == "Đó không phải là chuyện tiền bạc -- mà là chuyện [dữ liệu] & mã nguồn."
    )
    assert data.segments[1].source.endswith("the U.S. troops' withdrawal.")
    assert data.segments[3].source == "We don't know."
    assert data.report.repairs["moses_detokenized_references"] == 4
    assert data.report.repairs["moses_detokenized_sources"] == 4
    assert not any("Moses-tokenized" in n for n in data.report.notes)
    assert data.provenance["detokenize_references"] is True
    assert data.fingerprint != iwslt().fingerprint


@pytest.mark.shared_data
def test_real_iwslt_tst2013() -> None:
    cfg = parse_dataset_entry(
        {"benchmark": "iwslt15-en-vi:tst2013", "path": str(SHARED / "iwslt15-tst2013")}
    )
    data = load_dataset(cfg, Path("."))
    assert len(data.segments) == 1268 and data.report.unpaired == ()
    assert data.report.repairs["bom"] == 2
    assert not any("expected" in n for n in data.report.notes)
    notes = "\n".join(data.report.notes)
    assert "references: 1205 of 1268 look Moses-tokenized" in notes
    assert "&quot; x212" in notes and "&apos; x5" in notes

    clean = load_dataset(cfg.model_copy(update={"detokenize_references": True}), Path("."))
    refs = [s.references[0] for s in clean.segments]
    assert not any("&quot;" in r or "&apos;" in r or "&amp;" in r for r in refs)
    assert refs[0] == (
        "Khi tôi còn nhỏ, Tôi nghĩ rằng BắcTriều Tiên là đất nước tốt nhất trên thế giới và "
        'tôi thường hát bài "Chúng ta chẳng có gì phải ghen tị."'
    )
    # Detokenization only moves spaces and unescapes: the words stay the same.
    for raw, fixed in zip(data.segments, clean.segments, strict=True):
        assert fixed.references[0].replace(" ", "") == unescape(raw.references[0]).replace(" ", "")


def test_iwslt_folder_without_the_asked_test_set() -> None:
    cfg = parse_dataset_entry({"benchmark": "iwslt15-en-vi:tst2012", "path": "iwslt"})
    with pytest.raises(DatasetError, match=r"no tst2012\.en here \(found tst2013\.en\)"):
        load_dataset(cfg, FIXTURES)


def test_tokenized_pattern_finds_what_the_plain_alternation_finds() -> None:
    """The look-behind form of the tokenization signal matches where ``\\w \\.$|...`` does."""
    import re

    from harness.data.moses import _TOKENIZED

    plain = re.compile(r"\w \.$|\w [,;:!?] |\w n't\b|\w 's\b|&(?:quot|apos|amp);")
    cases = [
        "He left .",
        "He left.",
        "yes , no",
        "yes, no",
        "don 't",
        "it 's fine",
        "Tom 'sure'",
        "a &amp; b",
        "a & b",
        " .",
        "x ;y",
        "x ; y",
        "Cuộc họp ?",
        "Cuộc họp ? ",
        "3 .",
        "_ ,  ",
        "end .\n",
    ]
    for text in cases:
        assert bool(_TOKENIZED.search(text)) == bool(plain.search(text)), text
