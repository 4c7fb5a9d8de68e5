"""Config models for translators, one per ``backend`` (a discriminated union)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.configbase import StrictModel


class HFModelConfig(StrictModel):
    """A Hugging Face model run with ``transformers``."""

    backend: Literal["hf"] = "hf"
    name: str | None = None  # label in run folders and tables; defaults to the model id
    model: str  # hub id or local folder
    revision: str | None = None
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    batch_size: int = Field(default=16, gt=0)
    num_beams: int = Field(default=1, gt=0)
    max_new_tokens: int = Field(default=256, gt=0)
    trust_remote_code: bool = False


ModelConfig = HFModelConfig  # becomes a union discriminated on `backend` when more backends land
