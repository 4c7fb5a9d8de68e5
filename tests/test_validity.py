"""Validity checks on handmade segments: each flag fires where it should and nowhere else."""

from __future__ import annotations

import pytest

from harness.validity import checks, langid, postprocess
from harness.validity.checks import segment_flags
from harness.validity.report import ValidityReport, issues_text

SRC = "The committee approved the new budget for public schools on Tuesday."
GOOD = "Ủy ban đã thông qua ngân sách mới cho các trường công lập vào thứ Ba."


def test_a_correct_vietnamese_translation_has_no_flag() -> None:
    assert segment_flags(SRC, GOOD) == ()
    assert segment_flags("Hello, how are you?", "Xin chào, bạn có khỏe không?") == ()


@pytest.mark.parametrize(
    ("source", "hypothesis"),
    [
        ("2021", "2021"),
        ("ITU", "ITU"),
        ("Microsoft Windows", "Microsoft Windows"),
        ("Nguyen Van A", "Nguyễn Văn A"),
        ("Chapter 3.2", "Chương 3.2"),
        ("www.itu.int", "www.itu.int"),
        ("Hà Nội", "Hà Nội"),
        ("OK.", "OK."),
    ],
)
def test_numbers_names_and_short_strings_are_not_flagged(source: str, hypothesis: str) -> None:
    assert segment_flags(source, hypothesis) == ()


def test_empty() -> None:
    assert segment_flags(SRC, "") == ("empty",)
    assert segment_flags(SRC, "  \t ") == ("empty",)
    assert segment_flags("", "") == ()  # a blank source is rightly answered with nothing


def test_untranslated_copy_and_english_output() -> None:
    assert segment_flags(SRC, SRC) == ("untranslated",)
    assert "untranslated" in segment_flags(SRC, "  " + SRC.upper() + " ")
    english = "The committee approved a new budget for the public schools this Tuesday."
    assert segment_flags(SRC, english) == ("untranslated",)
    assert "off_target" not in segment_flags(SRC, english)  # English is counted once


@pytest.mark.parametrize(
    "hypothesis",
    [
        "Le comité a approuvé mardi le nouveau budget des écoles publiques.",
        "Der Ausschuss hat am Dienstag den neuen Haushalt für öffentliche Schulen gebilligt.",
        "委员会周二批准了公立学校的新预算，这是一个重要的决定。",
        "Komite menyetujui anggaran baru untuk sekolah negeri pada hari Selasa.",
    ],
)
def test_off_target(hypothesis: str) -> None:
    assert segment_flags(SRC, hypothesis) == ("off_target",)


def test_vietnamese_letters_win_over_the_model_on_short_lines() -> None:
    # fastText's lite model calls these German and Portuguese (seen in scripts/bench_langid.py).
    assert langid.identify("Sao cơ.").lang == "vi"
    assert langid.identify('Chúng ta cũng vậy," cô bổ sung thêm.').lang == "vi"
    assert langid.identify("2021").lang is None
    assert langid.identify("ITU").rule == "too-short"
    assert langid.identify("This is plainly an English sentence.").lang == "en"


def test_repetition() -> None:
    loop = "Ngôi nhà có mới " + "bạn bè tôi " * 6
    assert "repetition" in segment_flags(SRC, loop)
    assert checks.repetition_coverage("của của của của của của") == 1.0
    # Reduplication and ordinary repeated words are not loops.
    assert not checks.is_repetition("Giá cả tăng dần dần, từ từ, và người dân lo lắng dần.")
    assert not checks.is_repetition(GOOD)
    assert not checks.is_repetition("bạn bạn bạn")  # too short to call


@pytest.mark.parametrize(
    "hypothesis",
    [
        "Bản dịch: " + GOOD,
        "**Bản dịch:** " + GOOD,
        "Translation: " + GOOD,
        "Here is the translation: " + GOOD,
        "Dưới đây là bản dịch tiếng Việt:\n" + GOOD,
        "<think>The user wants Vietnamese.</think>" + GOOD,
        "“" + GOOD + "”",
        '"' + GOOD + '"',
        "```\n" + GOOD + "\n```",
        GOOD + "\n\nLưu ý: câu này có thể dịch theo nhiều cách.",
        GOOD + "\n\n(Note: the budget refers to the 2025 fiscal year.)",
    ],
)
def test_chatter(hypothesis: str) -> None:
    assert "chatter" in segment_flags(SRC, hypothesis)


def test_quotes_the_source_has_are_not_chatter() -> None:
    src = '"Big if true," he tweeted.'
    assert segment_flags(src, "“Nếu là thật thì to chuyện”, ông viết trên Twitter.") == ()
    assert not checks.is_chatter(SRC, "Ông nói “có” và “không” trong cùng một câu.")


def test_length_ratio() -> None:
    assert segment_flags(SRC, "Ủy ban.") == ("length_ratio",)
    assert segment_flags(SRC, GOOD + " " + GOOD) == ("length_ratio",)
    low, high = checks.length_band(len(SRC))
    assert low < len(GOOD) < high
    # Short sources get slack: "Hello." -> "Xin chào." is fine.
    assert segment_flags("Hello.", "Xin chào.") == ()


def test_translator_flags_come_first_in_fixed_order_and_unknown_ones_stay() -> None:
    flags = segment_flags(SRC, GOOD, ["truncated", "source_truncated", "custom"])
    assert flags == ("truncated", "source_truncated", "custom")


def test_report_counts_ids_and_texts() -> None:
    per_segment = [(), ("truncated", "repetition"), ("off_target",), ("truncated",)]
    report = ValidityReport.build(["a", "b", "c", "d"], per_segment)
    assert report.counts["truncated"] == 2 and report.counts["empty"] == 0
    assert report.segments["truncated"] == ("b", "d")
    assert report.flagged == 3
    assert report.summary() == "1 off_target, 1 repetition, 2 truncated"
    data = report.to_json()
    assert list(data["counts"]) == list(checks.FLAGS)
    assert data["segments"]["off_target"] == ["c"]
    assert issues_text({"validity": data}) == "issues: 1 off-target, 1 rep, 2 trunc"
    clean = ValidityReport.build(["a"], [()]).to_json()
    assert issues_text({"validity": clean}) == "issues: none"
    assert issues_text({"scores": {}}) == ""  # results from before validity checks


def test_postprocess_steps() -> None:
    cfg = postprocess.PostprocessConfig(
        strip_reasoning=True, strip_label=True, first_paragraph=True
    )
    raw = "<think>\nuser wants Vietnamese\n</think>\n\nBản dịch: " + GOOD + "\n\nGiải thích: ..."
    assert postprocess.apply(raw, cfg) == GOOD
    assert postprocess.apply("reasoning first</think>" + GOOD, cfg) == GOOD
    assert postprocess.apply("<think>never closed ...", cfg) == ""
    assert postprocess.apply("Here is the translation:\n\n" + GOOD, cfg) == GOOD
    assert postprocess.apply("**Translation:** " + GOOD, cfg) == GOOD
    off = postprocess.PostprocessConfig()
    assert postprocess.apply(raw, off) == raw  # nothing on: untouched
    only_para = postprocess.PostprocessConfig(first_paragraph=True)
    assert postprocess.apply("Bản dịch: " + GOOD, only_para) == "Bản dịch: " + GOOD
    # A cleaned output carries no chatter flag any more.
    assert segment_flags(SRC, postprocess.apply(raw, cfg)) == ()


def test_what_the_source_says_too_is_a_translation() -> None:
    src = "Here are some key facts about Palu and Donggala, on the island of Sulawesi:"
    hyp = "Dưới đây là một số thông tin chính về Palu và Donggala, trên đảo Sulawesi:"
    assert segment_flags(src, hyp) == ()  # NTREX-128 has this pair; it is not chatter
    names = "Dearborn , Michigan . Henry Ford ."
    assert segment_flags(names, names.replace("Michigan", "MIchigan")) == ()


def test_the_cache_keeps_translator_flags_with_the_outputs(tmp_path) -> None:
    from harness.cache import TranslationCache

    with TranslationCache(tmp_path / "t.sqlite") as cache:
        cache.put_many("k", [("a", "A"), ("b", "B")], flags={"a": ("truncated",), "b": ()})
        assert cache.get_flags("k", ["a", "b", "c"]) == {"a": ("truncated",)}
        assert cache.get_flags("other", ["a"]) == {}
        cache.put_many("k", [("a", "A2")])  # replaced without flags: the old ones go
        assert cache.get_flags("k", ["a"]) == {}
        assert cache.get_many("k", ["a", "b"]) == {"a": "A2", "b": "B"}


def test_text_flags_remembered_in_the_statistics_cache_read_back_the_same(
    tmp_path, monkeypatch
) -> None:
    from harness.metrics.stats_cache import StatsCache

    sources = ["The meeting starts at nine.", "Hello world, how are you?", "Go.", "Yes", "Two"]
    hyps = [
        "Cuộc họp bắt đầu lúc chín giờ.",
        "Hello world, how are you?",  # untranslated
        "",  # empty
        "Bonjour tout le monde, comment allez-vous aujourd'hui?",  # off target
        "có có có có có có có có có có có có",  # repetition
    ]
    translator = [(), ("truncated",), (), ("custom",), ()]
    fresh = checks.all_segment_flags(sources, hyps, translator)
    with StatsCache(tmp_path / "stats.sqlite") as memo:
        assert checks.all_segment_flags(sources, hyps, translator, memo) == fresh
        keys = [
            checks.text_key(checks.signature(), s, h) for s, h in zip(sources, hyps, strict=True)
        ]
        assert len(memo.get_text_flags(keys)) == 5

        def no_second_look(*args):
            raise AssertionError("text flags were worked out again")

        monkeypatch.setattr(checks, "text_flags", no_second_look)
        assert checks.all_segment_flags(sources, hyps, translator, memo) == fresh
    assert {"untranslated", "truncated"} <= set(fresh[1]) and fresh[2] == ("empty",)
    assert fresh[3][-1] == "custom" and "repetition" in fresh[4]
    # Other thresholds or another language-ID model: other keys, checked again.
    assert checks.text_key("other", sources[0], hyps[0]) != checks.text_key(
        checks.signature(), sources[0], hyps[0]
    )
