"""Base class for every config model: strict (unknown keys are errors) and frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A pydantic model that forbids unknown keys and cannot be mutated after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
