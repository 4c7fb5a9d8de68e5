"""Vietnamese-aware text normalization: the one place text is changed before scoring.

Boundary normalization (always on): Unicode NFC, and no-break/exotic spaces to plain spaces.
Optional normalization (per config, applied to hypotheses and references alike before scoring):
tone-mark placement and quote style. See :class:`NormalizationSpec`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Every Unicode space separator except the plain space, plus the zero-width no-break space (BOM)
# when it appears mid-text. Tabs and newlines are left alone: they carry structure in files.
_EXOTIC_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")


def normalize_boundary(text: str) -> str:
    """NFC-compose ``text`` and turn exotic spaces into U+0020."""
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


@dataclass(frozen=True)
class NormalizationSpec:
    """Optional scoring-time normalization, recorded in every score's signature.

    ``tone_marks`` is named by an example word because "old" and "new" style mean opposite
    things in different papers: ``"hòa"`` puts the mark on the first vowel of oa/oe/uy
    (``hòa, khỏe, thủy``), ``"hoà"`` on the second (``hoà, khoẻ, thuỷ``).
    """

    tone_marks: str = "keep"  # "keep" | "hòa" | "hoà"
    quotes: str = "keep"  # "keep" | "straight"

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
