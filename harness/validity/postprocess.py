"""Opt-in clean-up of LLM output before scoring: reasoning blocks, labels, extra paragraphs.

Applied by the runner to the raw output (which is what the translation cache holds), so
turning a step on or off re-scores without translating again; the raw text stays in
segments.jsonl as ``raw_hypothesis`` wherever it differs.
"""

from __future__ import annotations

import re

from harness.configbase import StrictModel
from harness.validity.checks import LABEL, REASONING

# Output of a model whose chat template opened the reasoning block itself: only the close.
_UNOPENED_REASONING = re.compile(r"\A.*</(think|thinking|reasoning|thought)>", re.I | re.S)
# "Here is the translation:" / "Dưới đây là bản dịch:" alone on the first line.
_PREAMBLE_LINE = re.compile(
    r"\A\s*[*_]*(here(?:'s| is)\b[^\n]*|(?:dưới|sau) đây là\b[^\n]*|đây là bản dịch[^\n]*)"
    r"[:：][*_]*\s*\n",
    re.I,
)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


class PostprocessConfig(StrictModel):
    """Which clean-up steps run on a model's output (all off by default)."""

    strip_reasoning: bool = False  # drop <think>…</think> (and an unclosed <think>… to the end)
    strip_label: bool = False  # drop a leading "Bản dịch:" / "Translation:" / "Here is …:" line
    first_paragraph: bool = False  # keep the first paragraph (up to a blank line)

    @property
    def active(self) -> bool:
        return self.strip_reasoning or self.strip_label or self.first_paragraph


def strip_reasoning(text: str) -> str:
    """``text`` without reasoning blocks; an unclosed block runs to the end and goes too."""
    text = REASONING.sub("", text)
    return _UNOPENED_REASONING.sub("", text)


def strip_label(text: str) -> str:
    """``text`` without a leading preamble line ("Here is the translation:") and label
    ("Bản dịch:", "**Translation:**")."""
    text = _PREAMBLE_LINE.sub("", text, count=1)
    match = LABEL.match(text)
    if match:
        text = text[match.end() :].lstrip(" *_\t")
    return text


def first_paragraph(text: str) -> str:
    """The first non-empty paragraph of ``text``."""
    for part in _PARAGRAPH_BREAK.split(text.strip()):
        if part.strip():
            return part.strip()
    return ""


def apply(text: str, cfg: PostprocessConfig) -> str:
    """Run the configured steps in a fixed order: reasoning, label, paragraph.

    Whitespace at both ends is trimmed when any step is on; with none on, ``text`` is
    returned unchanged.
    """
    if not cfg.active:
        return text
    if cfg.strip_reasoning:
        text = strip_reasoning(text)
    if cfg.strip_label:
        text = strip_label(text.strip())
    if cfg.first_paragraph:
        text = first_paragraph(text)
    return text.strip()
