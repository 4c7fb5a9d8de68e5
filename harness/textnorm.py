"""Vietnamese-aware text normalization: the one place text is changed before scoring.

Boundary normalization (always on): Unicode NFC, and no-break/exotic spaces to plain spaces.
Optional normalization (per config, applied to hypotheses and references alike before scoring):
tone-mark placement and quote style. See :class:`NormalizationSpec` and :func:`apply_spec`.

Tone-mark placement works per syllable (one word = one syllable in Vietnamese writing): the onset
is split off (``qu``, and ``gi`` before another vowel, count as onsets), the vowel nucleus and the
coda are found, and the one tone mark is moved to the vowel standard orthography gives it:

1. a vowel with its own diacritic (ă â ê ô ơ ư) takes the mark; in ``ươ`` it is the ``ơ``;
2. otherwise a closed syllable (one with a final consonant) marks the last vowel: ``hoàng``;
3. otherwise an open ``oa``/``oe``/``uy`` depends on the style (the only place styles differ);
4. otherwise the middle of three vowels (``oái``, ``khuỷu``), or the first of two (``mái``,
   ``múa``).

Words that are not a well-formed Vietnamese syllable (English names, several tone marks, a vowel
cluster Vietnamese does not have) are left exactly as they are.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from harness.errors import ConfigError

# Every Unicode space separator except the plain space. Tabs and newlines are left alone: they
# carry structure in files. A byte-order mark is the loaders' business (they report it), not ours.
_EXOTIC_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")

TONE_STYLES = ("hòa", "hoà", "keep")
QUOTE_STYLES = ("straight", "keep")

_TONE_HELP = {
    "hòa": "mark on the first vowel of open oa/oe/uy: hòa, khỏe, thủy",
    "hoà": "mark on the second vowel of open oa/oe/uy: hoà, khoẻ, thuỷ",
    "keep": "leave tone marks where they are",
}
_QUOTE_HELP = {"straight": "curly quotes to ASCII \" and '", "keep": "leave quotes as they are"}


def normalize_boundary(text: str) -> str:
    """NFC-compose ``text`` and turn exotic spaces into U+0020."""
    if text.isascii():  # already NFC, and every exotic space is outside ASCII
        return text
    return _EXOTIC_SPACES.sub(" ", unicodedata.normalize("NFC", text))


def normalize_boundary_all(texts: Iterable[str]) -> tuple[list[str], int]:
    """Apply :func:`normalize_boundary` to each text; return them and how many changed."""
    out: list[str] = []
    changed = 0
    for text in texts:
        norm = normalize_boundary(text)
        changed += norm != text
        out.append(norm)
    return out, changed


def _choice_error(key: str, value: object, help_by_choice: dict[str, str]) -> ConfigError:
    choices = "; ".join(f"{c!r} ({why})" for c, why in help_by_choice.items())
    return ConfigError(f"normalize.{key}: invalid value {value!r}; choose from {choices}")


def _check_tone_style(value: object) -> str:
    # A YAML file typed with a decomposing input method holds "hòa" in NFD; accept it as NFC.
    style = unicodedata.normalize("NFC", value) if isinstance(value, str) else value
    if style not in TONE_STYLES:
        raise _choice_error("tone_marks", value, _TONE_HELP)
    return style


@dataclass(frozen=True)
class NormalizationSpec:
    """Optional scoring-time normalization, recorded in every score's signature.

    ``tone_marks`` is named by an example word because "old" and "new" style mean opposite
    things in different papers: ``"hòa"`` puts the mark on the first vowel of oa/oe/uy
    (``hòa, khỏe, thủy``), ``"hoà"`` on the second (``hoà, khoẻ, thuỷ``).
    Bad values raise :class:`ConfigError` listing the valid choices.
    """

    tone_marks: str = "keep"  # "keep" | "hòa" | "hoà"
    quotes: str = "keep"  # "keep" | "straight"

    def __post_init__(self) -> None:
        # frozen dataclass: object.__setattr__ is the sanctioned way to store the NFC form.
        object.__setattr__(self, "tone_marks", _check_tone_style(self.tone_marks))
        if self.quotes not in QUOTE_STYLES:
            raise _choice_error("quotes", self.quotes, _QUOTE_HELP)

    @property
    def tag(self) -> str:
        """Signature fragment, e.g. ``nfc`` or ``nfc+tone:hòa+quotes:straight``."""
        parts = ["nfc"]
        if self.tone_marks != "keep":
            parts.append(f"tone:{self.tone_marks}")
        if self.quotes != "keep":
            parts.append(f"quotes:{self.quotes}")
        return "+".join(parts)

    @property
    def is_identity(self) -> bool:
        return self.tone_marks == "keep" and self.quotes == "keep"


def apply_spec(text: str, spec: NormalizationSpec) -> str:
    """Boundary normalization, then ``spec``'s tone-mark and quote rules; returns NFC text."""
    out = normalize_boundary(text)
    if spec.tone_marks != "keep":
        out = place_tone_marks(out, spec.tone_marks)
    if spec.quotes == "straight":
        out = straighten_quotes(out)
    return out


def apply_spec_all(texts: Iterable[str], spec: NormalizationSpec) -> tuple[list[str], int]:
    """Apply :func:`apply_spec` to each text, in order; return them and how many changed."""
    out: list[str] = []
    changed = 0
    for text in texts:
        norm = apply_spec(text, spec)
        changed += norm != text
        out.append(norm)
    return out, changed


_QUOTES = str.maketrans(
    {
        "\u201c": '"',  # “
        "\u201d": '"',  # ”
        "\u201e": '"',  # „
        "\u201f": '"',  # ‟
        "\u2033": '"',  # ″ (double prime, often typed for a quote)
        "\u2018": "'",  # ‘
        "\u2019": "'",  # ’
        "\u201a": "'",  # ‚
        "\u201b": "'",  # ‛
        "\u2032": "'",  # ′ (prime)
    }
)


def straighten_quotes(text: str) -> str:
    """Curly and low-9 quotes (and primes) to ASCII ``"`` and ``'``; length is unchanged."""
    return text.translate(_QUOTES)


# --- tone marks -------------------------------------------------------------------------------

# Combining grave, acute, tilde, hook above, dot below: the five Vietnamese tones.
_TONES = ("\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
_VOWELS = "aăâeêioôơuưy"
_CONSONANTS = "bcdđghklmnpqrstvxfjwz"  # f j w z: loanwords; they never parse as an onset
_DIACRITIC_VOWELS = "ăâêôơư"


def _letter_table() -> dict[str, tuple[str, str]]:
    """Every Vietnamese letter (both cases, NFC) -> (same letter without tone, tone mark or "")."""
    table: dict[str, tuple[str, str]] = {}
    for base in _VOWELS + _VOWELS.upper():
        for tone in ("", *_TONES):
            table[unicodedata.normalize("NFC", base + tone)] = (base, tone)
    for cons in _CONSONANTS + _CONSONANTS.upper():
        table[cons] = (cons, "")
    return table


_LETTERS = _letter_table()


def _words(spaced: str) -> tuple[str, ...]:
    return tuple(spaced.split())


# Longest first, so "ngh" wins over "ng" and "n". "gi" and "qu" are handled before this list.
_ONSETS = tuple(
    sorted(_words("b c ch d đ g gh h k kh l m n ng ngh nh p ph r s t th tr v x"), key=len)
)[::-1]
_CODAS = frozenset(_words("c ch m n ng nh p t")) | {""}
# Vowel clusters that end in an off-glide (or are ia/ua/ưa) and so never take a final consonant.
_OPEN_ONLY = frozenset(
    _words("ai ao au ay âu ây eo êu ia iu oi ôi ơi ua ui ưa ưi ưu")
    + _words("oai oao oay oeo uây uôi uya uyu ươi ươu iêu yêu")
)
_NUCLEI = (
    _OPEN_ONLY | frozenset(_VOWELS) | frozenset(_words("iê yê oa oă oe oo uâ uê uô uơ uy ươ uyê"))
)
# The only open nuclei whose mark position is a matter of style.
_STYLED = frozenset(("oa", "oe", "uy"))


def _split_syllable(base: str) -> tuple[int, str, bool] | None:
    """Parse a lower-case, toneless word: (onset length, nucleus, closed?) or None if invalid."""
    if len(base) > 2 and base[:2] in ("gi", "qu") and base[2] in _VOWELS:
        onset = 2
    elif base[:1] in _VOWELS:
        onset = 0
    else:
        onset = next((len(o) for o in _ONSETS if base.startswith(o)), -1)
        if onset < 0:
            return None
    rest = base[onset:]
    n_vowels = len(rest) - len(rest.lstrip(_VOWELS))
    nucleus, coda = rest[:n_vowels], rest[n_vowels:]
    if nucleus not in _NUCLEI or coda not in _CODAS or (coda and nucleus in _OPEN_ONLY):
        return None
    return onset, nucleus, bool(coda)


def _mark_position(nucleus: str, closed: bool, style: str) -> int:
    """Index within ``nucleus`` of the vowel that carries the tone mark."""
    marked = [i for i, ch in enumerate(nucleus) if ch in _DIACRITIC_VOWELS]
    if marked:
        return marked[-1]  # ươ: the ơ
    if closed:
        return len(nucleus) - 1
    if nucleus in _STYLED:
        return 0 if style == "hòa" else 1
    return 1 if len(nucleus) == 3 else 0


def _retone_word(word: str, style: str) -> str:
    if word.isascii():  # no tone mark at all: nothing to move
        return word
    parts = [_LETTERS.get(ch) for ch in word]
    if any(p is None for p in parts):
        return word
    letters = [p for p in parts if p is not None]  # same list; narrows the type
    toned = [i for i, (_, tone) in enumerate(letters) if tone]
    if len(toned) != 1:
        return word
    base = "".join(b for b, _ in letters).lower()
    parsed = _split_syllable(base)
    if parsed is None:
        return word
    onset, nucleus, closed = parsed
    old, new = toned[0], onset + _mark_position(nucleus, closed, style)
    if old == new:
        return word
    chars = list(word)
    chars[old] = letters[old][0]  # keeps the letter's case: the table maps case to case
    chars[new] = unicodedata.normalize("NFC", chars[new] + letters[old][1])
    return "".join(chars)


# Letters, plus combining marks NFC could not absorb: those stay inside the word, which then
# fails the letter-table check and is left alone.
_WORD = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f])+")


def place_tone_marks(text: str, style: str) -> str:
    """Put each syllable's tone mark where ``style`` (``"hòa"``, ``"hoà"``, ``"keep"``) puts it.

    Returns NFC text that differs from NFC(``text``) only in the position of tone marks within
    words; letters, case, tones and everything between words are unchanged.
    """
    style = _check_tone_style(style)
    text = unicodedata.normalize("NFC", text)
    if style == "keep":
        return text
    return _WORD.sub(lambda m: _retone_match(m, style), text)


def _retone_match(match: re.Match[str], style: str) -> str:
    end = match.end()
    # A combining mark outside U+0300-U+036F right after the word belongs to its last letter;
    # such a word is not plain Vietnamese, and moving a mark there could break NFC.
    if end < len(match.string) and unicodedata.combining(match.string[end]):
        return match.group()
    return _retone_word(match.group(), style)
