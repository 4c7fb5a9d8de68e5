"""Interleaved bilingual documents: each English line followed by its Vietnamese translation.

Real documents of this kind (the bundled ITU message is one) are messy: pairs are not always
separated by blank lines, a Vietnamese line can have no English partner (a second, partial
translation), and English text can have no translation at all. So the unit is one line, and the
rule is strict: **a Vietnamese line pairs with the English line directly above it**, and only if
that English line is not yet paired. Everything else is reported with its line number. Gluing
consecutive Vietnamese lines into one reference would silently corrupt it.

Language is decided per line from Vietnamese diacritics; see :func:`vietnamese_word_ratio`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.data.base import RawLoad, RawRecord
from harness.data.textfile import read_lines
from harness.segments import LoadIssue

Language = Literal["en", "vi", "none"]

# Combining marks of Vietnamese letters after NFD: the five tones (grave, acute, tilde, hook
# above, dot below) and the vowel diacritics (circumflex â ê ô, breve ă, horn ơ ư). đ does not
# decompose and is checked on its own.
_VI_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323\u0302\u0306\u031b")
_WORD = re.compile(r"[^\W\d_]+")

# Share of words carrying a Vietnamese mark at or above which a line is Vietnamese. Only words
# that start in lower case are counted (all words, if none does): capitalized words are mostly
# names, and names are where English text meets accented letters ("Eduardo Rodríguez Veltzé").
# Measured that way on ../shared/data, English lines reach at most 0.05 (NTREX-128, 1,997 lines)
# and 0.11 (IWSLT tst2013: "Ashê olên . It means in my language ..."); Vietnamese lines start at
# 0.5 (NTREX-128) and 0.33 (IWSLT), apart from one line of names only ("Dearborn , MIchigan .
# Henry Ford ."), which no rule based on letters can place.
VI_THRESHOLD = 0.2


def _has_vi_mark(word: str) -> bool:
    if "đ" in word or "Đ" in word:
        return True
    return any(ch in _VI_MARKS for ch in unicodedata.normalize("NFD", word))


def vietnamese_word_ratio(text: str) -> float | None:
    """Share of the (lower-case) words in ``text`` with a Vietnamese diacritic; None if none."""
    words = _WORD.findall(unicodedata.normalize("NFC", text))
    if not words:
        return None
    counted = [w for w in words if not w[0].isupper()] or words
    return sum(_has_vi_mark(w) for w in counted) / len(counted)


def classify_line(text: str) -> Language:
    """``"vi"``, ``"en"``, or ``"none"`` for a line without letters (numbers, punctuation)."""
    ratio = vietnamese_word_ratio(text)
    if ratio is None:
        return "none"
    return "vi" if ratio >= VI_THRESHOLD else "en"


@dataclass(frozen=True)
class Pair:
    en_line: int
    en: str
    vi_line: int
    vi: str


def pair_lines(lines: tuple[str, ...], file: str) -> tuple[list[Pair], list[LoadIssue]]:
    """Pair each English line with a Vietnamese line directly below it; report the rest.

    Blank lines separate pairs and are neither paired nor reported. Returns pairs and unpaired
    lines, both in file order.
    """
    pairs: list[Pair] = []
    issues: list[LoadIssue] = []
    pending: tuple[int, str] | None = None  # an English line still waiting for its translation

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            issues.append(_issue("English line with no Vietnamese line after it", pending, file))
            pending = None

    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            flush()
            continue
        language = classify_line(text)
        if language == "en":
            flush()
            pending = (number, text)
        elif language == "vi" and pending is not None:
            pairs.append(Pair(pending[0], pending[1], number, text))
            pending = None
        else:
            flush()
            reason = (
                "Vietnamese line with no English line directly above it"
                if language == "vi"
                else "line has no letters, so its language cannot be told"
            )
            issues.append(_issue(reason, (number, text), file))
    flush()
    return pairs, issues


def _issue(reason: str, line: tuple[int, str], file: str) -> LoadIssue:
    return LoadIssue(reason=reason, text=line[1], file=file, line=line[0])


@dataclass(frozen=True)
class InterleavedSource:
    """An interleaved document; segment ids are the English line numbers."""

    path: Path

    def input_files(self) -> tuple[Path, ...]:
        return (self.path,)

    def load(self) -> RawLoad:
        text = read_lines(self.path)
        pairs, issues = pair_lines(text.lines, str(self.path))
        records = [
            RawRecord(
                id=str(p.en_line),
                source=p.en,
                references=(p.vi,),
                where=f"{self.path}:{p.en_line}",
                file=str(self.path),
                line=p.en_line,
                ref_where=(f"{self.path}:{p.vi_line}",),
            )
            for p in pairs
        ]
        nonblank = sum(1 for line in text.lines if line.strip())
        load = RawLoad(records=records, records_in=nonblank, unpaired=issues)
        load.repairs.update(bom=int(text.bom), crlf=text.crlf)
        load.notes.append(
            f"interleaved: {nonblank} non-blank lines -> {len(pairs)} pairs "
            f"({2 * len(pairs)} lines) + {len(issues)} unpaired lines"
        )
        load.provenance.update(
            path=str(self.path), sha256=text.sha256, pairing="vi line directly below en line"
        )
        return load
