"""Few-shot examples for decoder-only LLMs, taken from a dataset that must not touch the test set.

An example whose source is also a test source leaks the reference into the prompt and inflates
every score, so the overlap check is an error, not a warning.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import TranslatorError
from harness.segments import fingerprint
from harness.textnorm import normalize_boundary
from harness.translators.prompt_config import FewShotConfig, PromptConfig

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class FewShotExample:
    source: str
    target: str


def _key(text: str) -> str:
    # Same text up to Unicode form and spacing counts as the same source.
    return _SPACES.sub(" ", normalize_boundary(text)).strip()


def load_few_shot(
    cfg: FewShotConfig, *, base_dir: Path | None, where: str
) -> tuple[list[FewShotExample], dict[str, Any]]:
    """The first ``cfg.n`` pairs of ``cfg.dataset`` (first reference) and their provenance."""
    from harness.data import load_dataset

    loaded = load_dataset(cfg.dataset, base_dir or Path.cwd())
    segments = loaded.segments[: cfg.n]
    if len(segments) < cfg.n:
        raise TranslatorError(
            f"{where}.prompt.few_shot: asked for {cfg.n} examples but dataset "
            f"{loaded.name!r} has only {len(segments)}"
        )
    examples = [FewShotExample(s.source, s.references[0]) for s in segments]
    info = {"dataset": loaded.name, "n": cfg.n, "fingerprint": fingerprint(segments)}
    return examples, info


def check_no_overlap(
    examples: Sequence[FewShotExample], sources: Sequence[str], where: str
) -> None:
    """Raise :class:`TranslatorError` if any example's source equals a test source."""
    if not examples:
        return
    index = {_key(ex.source): i for i, ex in enumerate(examples)}
    for pos, source in enumerate(sources):
        hit = index.get(_key(source))
        if hit is not None:
            raise TranslatorError(
                f"{where}.prompt.few_shot: example {hit} has the same source as test segment "
                f"{pos} ({source[:60]!r}); take examples from a split that does not overlap "
                "the test set"
            )


def chat_messages(
    prompt: PromptConfig, examples: Sequence[FewShotExample], source: str
) -> list[dict[str, str]]:
    """Chat turns for one source: optional system turn, few-shot pairs, then the source.

    One function for every backend that sends chat turns (a local chat template, an API), so
    the same ``prompt:`` config is the same conversation everywhere.
    """
    instruction = prompt.instruction
    turns = []
    if prompt.system_prompt:
        turns.append({"role": "system", "content": prompt.system_prompt})
    for ex in examples:
        turns.append({"role": "user", "content": f"{instruction}\n\n{ex.source}"})
        turns.append({"role": "assistant", "content": ex.target})
    turns.append({"role": "user", "content": f"{instruction}\n\n{source}"})
    return turns


def first_line(text: str) -> str:
    """The first non-empty line of ``text``, stripped."""
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""
