"""Shared inputs for the translator tests: tiny models of every family, and sources of mixed
lengths (a blank one and a Vietnamese one among them) that exercise sorting and batching."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.devtools import tiny_families as fam
from harness.devtools.tiny_models import build_tiny_marian

SOURCES = [
    "Hello.",
    "A much longer sentence with many more words in it, to sort it first.",
    "Mid length sentence here.",
    "Information society.",
    "Digital transformation in every area of business and all parts of life.",
    "",
    "Xin chào thuỷ Đà.",
]

BUILDERS: dict[str, Callable[[Path], Path]] = {
    "marian": build_tiny_marian,
    "marian-multi": lambda d: build_tiny_marian(d, extra_tokens=[">>fra<<", ">>vie<<"]),
    "marian-nocode": lambda d: build_tiny_marian(d, extra_tokens=[">>fra<<", ">>deu<<"]),
    "nllb": fam.build_tiny_nllb,
    "m2m100": fam.build_tiny_m2m100,
    "mbart50": fam.build_tiny_mbart50,
    "vinai-translate-en2vi": lambda d: fam.build_tiny_mbart50(d, decoder_start="vi_VN"),
    "t5": fam.build_tiny_t5,
    "madlad": lambda d: fam.build_tiny_t5(d, madlad=True),
    "llama-chat": fam.build_tiny_llama,
}

# The encoder-decoder families both backends run.
SEQ2SEQ_FAMILIES = ("marian", "nllb", "m2m100", "mbart50", "vinai-translate-en2vi", "t5", "madlad")
