"""Validity checks on one segment: pure functions of (source, hypothesis, translator flags).

They describe the output; they never change a score. Each check has a docstring saying
exactly when it fires, and the thresholds below are part of :func:`signature`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from harness.validity import langid

# Flags in report order. The last two come from the translator, not from the text.
TEXT_FLAGS = ("empty", "untranslated", "off_target", "repetition", "chatter", "length_ratio")
TRANSLATOR_FLAGS = ("truncated", "source_truncated")
FLAGS = TEXT_FLAGS + TRANSLATOR_FLAGS

# Length band in characters, hypothesis vs source of n characters: [LOW*n - SLACK, HIGH*n +
# SLACK]. Measured with scripts/measure_validity.py on the 3,265 NTREX-128 + IWSLT'15
# tst2013 pairs: 4 human references (0.12 %) fall outside; the plain ratio band [0.6, 1.8]
# would flag 30, most of them short sources, hence the slack.
LENGTH_LOW, LENGTH_HIGH, LENGTH_SLACK = 0.6, 1.8, 15

# A loop: one n-gram (n <= REPEAT_MAX_N words) repeated back to back at least REPEAT_MIN_TIMES
# times, such runs covering at least REPEAT_COVERAGE of the words of an output of at least
# REPEAT_MIN_WORDS words. Reduplication ("dần dần", "từ từ") repeats twice and never fires.
REPEAT_MAX_N, REPEAT_MIN_TIMES, REPEAT_COVERAGE, REPEAT_MIN_WORDS = 8, 3, 0.5, 6

_WORD = re.compile(r"\w+")
_LETTER_WORD = re.compile(r"[^\W\d_]{2,}")
_ADDRESS = re.compile(r"\w[./@:\\_]\w")  # www.itu.int, a@b.org, data/test.en, snake_case

REASONING = re.compile(r"<(think|thinking|reasoning|thought)>.*?(</\1>|\Z)", re.I | re.S)
# A leading label: "Bản dịch:", "**Translation:**", "Vietnamese translation:", "Tiếng Việt:".
LABEL = re.compile(
    r"^\s*[*_#>\s]*(bản dịch|câu dịch|dịch|tiếng việt|translation|translated text|vietnamese"
    r"(?: translation)?)(?: tiếng việt| sang tiếng việt| \(vietnamese\))?\s*[*_]*\s*[:：]",
    re.I,
)
_PREAMBLE = re.compile(
    r"^\s*(here(?:'s| is| are)\b|sure\b|certainly\b|of course\b|the translation\b|"
    r"i (?:can|will|would)\b|as an ai\b|dưới đây là\b|đây là bản dịch\b|sau đây là\b)",
    re.I,
)
_NOTE = re.compile(
    r"(^|\n)\s*[(*_\s]*(note|explanation|lưu ý|ghi chú|giải thích|chú thích)\s*[:：]", re.I
)
_QUOTE_PAIRS = {'"': '"', "“": "”", "'": "'", "‘": "’", "«": "»", "「": "」"}
_QUOTES = frozenset(_QUOTE_PAIRS) | frozenset(_QUOTE_PAIRS.values()) | {"„"}


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def is_empty(source: str, hypothesis: str) -> bool:
    """Empty or whitespace-only output for a source that is not blank itself."""
    return not hypothesis.strip() and bool(source.strip())


def has_translatable_word(source: str) -> bool:
    """Whether ``source`` holds a lowercase word of two letters or more outside URLs, e-mail
    addresses and file names: numbers, names, acronyms, addresses and titles in capitals
    legitimately come out as they went in."""
    tokens = [t for t in source.split() if not _ADDRESS.search(t)]
    return any(w.islower() for t in tokens for w in _LETTER_WORD.findall(t))


def is_untranslated(source: str, hypothesis: str, guess: langid.LangGuess | None = None) -> bool:
    """The output is the source itself (case and spacing aside) while the source has a word
    to translate, or the output is identified as English. A copy of a source with nothing to
    translate (names, numbers, addresses) is fine, whatever language it looks like."""
    hyp = " ".join(_nfc(hypothesis).casefold().split())
    if hyp and hyp == " ".join(_nfc(source).casefold().split()):
        return has_translatable_word(source)
    guess = guess if guess is not None else langid.identify(hypothesis)
    return guess.lang == "en"


def is_off_target(hypothesis: str, guess: langid.LangGuess | None = None) -> bool:
    """Identified as a language other than Vietnamese and English (English is
    ``untranslated``); text too short to tell is never off-target."""
    guess = guess if guess is not None else langid.identify(hypothesis)
    return guess.lang not in (None, "vi", "en")


def repetition_coverage(hypothesis: str) -> float:
    """Share of the words of ``hypothesis`` inside back-to-back repeats of one n-gram.

    A stretch of ``times`` copies of an n-gram is a run of ``(times - 1) * n`` positions where
    a word equals the word ``n`` later, so each n costs one pass over the words.
    """
    words = [w.casefold() for w in _WORD.findall(hypothesis)]
    covered = [False] * len(words)
    for n in range(1, REPEAT_MAX_N + 1):
        need, start = (REPEAT_MIN_TIMES - 1) * n, 0
        pairs = zip(words, words[n:], strict=False)  # word j beside word j + n
        for same, group in itertools.groupby(a == b for a, b in pairs):
            run = sum(1 for _ in group)
            if same and run >= need:  # words start .. start+run+n-1 repeat with period n
                covered[start : start + run + n] = [True] * (run + n)
            start += run
    return sum(covered) / len(words) if words else 0.0


def is_repetition(hypothesis: str) -> bool:
    """A degenerate loop covers most of the output (see the REPEAT_* thresholds)."""
    n_words = len(_WORD.findall(hypothesis))
    return n_words >= REPEAT_MIN_WORDS and repetition_coverage(hypothesis) >= REPEAT_COVERAGE


def is_wrapped(source: str, hypothesis: str) -> bool:
    """The whole output is inside quotes the source does not have, a code fence, or bold."""
    hyp, src = hypothesis.strip(), source.strip()
    if hyp.startswith("```") or (len(hyp) > 4 and hyp.startswith("**") and hyp.endswith("**")):
        return True
    if len(hyp) < 2 or hyp[0] not in _QUOTE_PAIRS or hyp[-1] != _QUOTE_PAIRS[hyp[0]]:
        return False
    # Inner quotes of the same kind mean two quoted parts, not one wrapping ("a" and "b");
    # a quoted source may well come out quoted.
    return hyp[0] not in hyp[1:-1] and src[:1] not in _QUOTES


def is_chatter(source: str, hypothesis: str) -> bool:
    """LLM boilerplate around the translation: a reasoning block, a leading label
    ("Bản dịch:"), a preamble ("Here is the translation", "Dưới đây là"), a note
    ("Lưu ý:", "Note:"), wrapping quotes / markdown, or a second paragraph the source lacks.
    A label, preamble or note the source has too ("Here are the key facts: ...") is a
    translation, not chatter."""
    hyp, src = _nfc(hypothesis), _nfc(source)
    if REASONING.search(hyp) or is_wrapped(src, hyp):
        return True
    for pattern in (LABEL.match, _PREAMBLE.match, _NOTE.search):
        if pattern(hyp) and not pattern(src):
            return True
    return "\n" in hyp.strip() and "\n" not in src.strip()


def length_band(source_chars: int) -> tuple[float, float]:
    """(shortest, longest) plausible hypothesis length, in characters, for a source length."""
    return LENGTH_LOW * source_chars - LENGTH_SLACK, LENGTH_HIGH * source_chars + LENGTH_SLACK


def is_length_outlier(source: str, hypothesis: str) -> bool:
    """Output length outside :func:`length_band` (empty outputs are ``empty`` instead)."""
    src, hyp = len(source.strip()), len(hypothesis.strip())
    if not src or not hyp:
        return False
    low, high = length_band(src)
    return not low <= hyp <= high


def segment_flags(
    source: str, hypothesis: str, translator_flags: Iterable[str] = ()
) -> tuple[str, ...]:
    """Every flag that applies to one segment, in :data:`FLAGS` order.

    ``translator_flags`` are the backend's own reports (``truncated``, ``source_truncated``);
    unknown names are kept after the known ones rather than dropped.
    """
    return _merge(text_flags(source, hypothesis), translator_flags)


def text_flags(source: str, hypothesis: str) -> tuple[str, ...]:
    """The flags the text alone decides (no translator's reports), in :data:`FLAGS` order."""
    found: set[str] = set()
    if is_empty(source, hypothesis):
        found.add("empty")
    elif hypothesis.strip():
        guess = langid.identify(hypothesis)
        if is_untranslated(source, hypothesis, guess):
            found.add("untranslated")
        elif is_off_target(hypothesis, guess):
            found.add("off_target")
        if is_repetition(hypothesis):
            found.add("repetition")
        if is_chatter(source, hypothesis):
            found.add("chatter")
        if is_length_outlier(source, hypothesis):
            found.add("length_ratio")
    return tuple(f for f in FLAGS if f in found)


def _merge(text: Iterable[str], translator: Iterable[str]) -> tuple[str, ...]:
    found = {*text, *translator}
    known = [f for f in FLAGS if f in found]
    return tuple(known + sorted(found - set(FLAGS)))


class FlagMemo(Protocol):
    """Where text flags are remembered (the statistics cache): by :func:`text_key`."""

    def get_text_flags(self, keys: Sequence[bytes]) -> dict[bytes, tuple[str, ...]]: ...

    def put_text_flags(self, rows: Mapping[bytes, Sequence[str]]) -> None: ...


def text_key(checks: str, source: str, hypothesis: str) -> bytes:
    """sha256 over the checks' signature and one segment's text."""
    return hashlib.sha256(json.dumps([checks, source, hypothesis]).encode()).digest()


def all_segment_flags(
    sources: Sequence[str],
    hypotheses: Sequence[str],
    translator_flags: Sequence[Iterable[str]] | None = None,
    memo: FlagMemo | None = None,
) -> list[tuple[str, ...]]:
    """:func:`segment_flags` for aligned sequences (lengths must match). With ``memo``, the
    text flags of a (source, hypothesis) already checked with these thresholds and this
    language-ID model are read back, not worked out again (language ID is the slow part)."""
    extra: Sequence[Iterable[str]] = translator_flags or [()] * len(sources)
    if len(sources) != len(hypotheses) or len(extra) != len(sources):
        raise ValueError(
            f"{len(sources)} sources, {len(hypotheses)} hypotheses, {len(extra)} flag rows"
        )
    if memo is None:
        return [segment_flags(s, h, f) for s, h, f in zip(sources, hypotheses, extra, strict=True)]
    checks = signature()
    keys = [text_key(checks, s, h) for s, h in zip(sources, hypotheses, strict=True)]
    known = memo.get_text_flags(keys)
    fresh: dict[bytes, tuple[str, ...]] = {}
    for key, source, hypothesis in zip(keys, sources, hypotheses, strict=True):
        if key not in known and key not in fresh:
            fresh[key] = text_flags(source, hypothesis)
    if fresh:
        memo.put_text_flags(fresh)
    found = {**known, **fresh}
    return [_merge(found[k], f) for k, f in zip(keys, extra, strict=True)]


def signature() -> str:
    """Every threshold the text checks use, so that counts from different settings differ."""
    return (
        f"len:{LENGTH_LOW}-{LENGTH_HIGH}+{LENGTH_SLACK}|rep:{REPEAT_MIN_TIMES}x<={REPEAT_MAX_N}"
        f"@{REPEAT_COVERAGE}|{langid.signature()}"
    )
