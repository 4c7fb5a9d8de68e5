"""How decoder-only LLMs are prompted: shared by the causal-lm preset and API backends, so the
same prompt config means the same prompt whatever runs the model."""

from __future__ import annotations

from pydantic import Field

from harness.configbase import StrictModel
from harness.data.config import DatasetEntry

DEFAULT_INSTRUCTION = (
    "Translate the following English text into Vietnamese. "
    "Output only the Vietnamese translation, with no explanations."
)


class FewShotConfig(StrictModel):
    """Few-shot examples for decoder-only LLMs: the first ``n`` pairs of a dataset.

    The dataset must not share any source with the test set; the translator refuses otherwise.
    """

    dataset: DatasetEntry  # any dataset entry, e.g. "flores200:dev" or {kind: files, ...}
    n: int = Field(default=3, gt=0, le=64)


class PromptConfig(StrictModel):
    """How a decoder-only LLM is asked to translate (ignored by encoder-decoder presets)."""

    instruction: str = DEFAULT_INSTRUCTION
    few_shot: FewShotConfig | None = None
    first_line_only: bool = False  # chatty models add notes after a blank line
    system_prompt: str | None = None  # sent as a system turn when the chat template has one
