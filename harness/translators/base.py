"""The translator interface every backend implements."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.errors import TranslatorError

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
        """Model id, resolved revision, parameters, device, dtype, preset, generation settings."""
        ...


@dataclass(frozen=True)
class BuildOptions:
    """Run-time context for building a translator (things that are not model settings).

    ``config_key`` names the model in error messages (e.g. ``"models[2]"``); ``base_dir``
    anchors relative model folders and few-shot dataset paths (default: the current folder);
    ``test_sources`` are the sources about to be translated, so few-shot examples can be
    checked against them.
    """

    cache_dir: Path
    base_dir: Path | None = None
    config_key: str | None = None
    progress: bool = True
    test_sources: tuple[str, ...] = field(default_factory=tuple)


class SegmentError(TranslatorError):
    """A translator failed on one input, at ``position`` in the sources it was given.

    ``template`` is the message with ``{segment}`` where the input is to be named: the
    translator only knows positions in its own call, the runner knows which dataset segment
    that was, and fills it in (:meth:`moved`, :meth:`named`).
    """

    def __init__(self, position: int, template: str) -> None:
        self.position, self.template = position, template
        super().__init__(template.format(segment=f"input {position}"))

    def moved(self, position: int) -> SegmentError:
        """The same failure, at ``position`` of a longer list the inputs were taken from."""
        return SegmentError(position, self.template)

    def named(self, segment: str) -> TranslatorError:
        return TranslatorError(self.template.format(segment=segment))
