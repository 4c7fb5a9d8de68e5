"""The translator interface every backend implements."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

# Called after each finished batch with the batch's positions in the input and its outputs, so
# that the runner can cache results as they arrive (an interrupted run then loses nothing).
BatchCallback = Callable[[Sequence[int], Sequence[str]], None]


class Translator(Protocol):
    """Translates English sources into Vietnamese.

    ``translate`` returns exactly one hypothesis per source, in input order, whatever batching,
    sorting or caching happens inside.
    """

    def translate(
        self, sources: Sequence[str], on_batch: BatchCallback | None = None
    ) -> list[str]: ...

    def provenance(self) -> Mapping[str, Any]:
        """Model id, resolved revision, parameter count, device, dtype, preset, generation settings."""
        ...
