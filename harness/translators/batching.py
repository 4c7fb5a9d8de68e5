"""Length-sorted batching with a token budget, progress, and order restored afterwards.

Every backend tokenizes all sources once, hands the lengths to :func:`plan_batches`, and lets
:func:`run_batches` drive its per-batch step. Sorting by length keeps padding (wasted compute)
small; sorting longest-first makes an out-of-memory batch fail in the first seconds and keeps
the ETA pessimistic rather than optimistic.
"""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass

from harness.errors import TranslatorError
from harness.translators.base import BatchCallback

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchResult:
    """One batch's outputs (in the batch's order) and how many tokens were generated.

    ``truncated``, when the backend can tell, says per row whether generation stopped at
    ``max_new_tokens`` instead of at an end-of-sequence token.
    """

    hypotheses: list[str]
    output_tokens: int
    truncated: Sequence[bool] | None = None


@dataclass(frozen=True)
class TranslationStats:
    """Throughput of one ``translate`` call; memory in MiB (CUDA peak when on a GPU)."""

    segments: int
    batches: int
    seconds: float
    input_tokens: int
    output_tokens: int
    segments_per_s: float
    tokens_per_s: float  # generated tokens per second
    peak_memory_mb: float
    peak_memory_kind: str  # "cuda_max_allocated" | "process_max_rss"
    truncated_sources: int = 0
    blank_sources: int = 0
    truncated_outputs: int = 0  # outputs cut at max_new_tokens

    def to_json(self) -> dict[str, float | int | str]:
        return asdict(self)


def plan_batches(
    lengths: Sequence[int],
    *,
    batch_size: int,
    max_tokens: int | None = None,
    skip: Collection[int] = (),
) -> list[list[int]]:
    """Group input positions into batches, longest sources first.

    A batch holds at most ``batch_size`` rows and, when ``max_tokens`` is set, at most
    ``max_tokens`` padded tokens (rows x longest row). A single source longer than the budget
    still gets a batch of its own: nothing is ever dropped. Positions in ``skip`` (blank
    sources, answered without the model) get no batch.
    """
    skipped = set(skip)
    order = sorted(
        (i for i in range(len(lengths)) if i not in skipped), key=lambda i: (-lengths[i], i)
    )
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Sorted descending, so the first row of a batch is its longest.
        width = max(lengths[current[0]] if current else lengths[i], 1)
        full = len(current) >= batch_size
        over = max_tokens is not None and width * (len(current) + 1) > max_tokens
        if current and (full or over):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def peak_memory() -> tuple[float, str]:
    """Peak memory in MiB: CUDA's max allocated when torch has used a GPU, else process RSS."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda.max_memory_allocated() / 2**20, "cuda_max_allocated"
    # ru_maxrss is KiB on Linux (bytes on macOS); this harness targets Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process_max_rss"


class _Progress:
    """A tqdm bar on a terminal. Where there is none, the runner logs progress lines
    (:class:`harness.progress.ProgressLog`), since only it knows the cached count."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.total, self.label, self.done, self.tokens = total, label, 0, 0
        self.start = time.perf_counter()
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=label, unit="seg", file=sys.stderr, leave=False)

    def update(self, segments: int, tokens: int) -> None:
        self.done += segments
        self.tokens += tokens
        if self.bar is not None:
            now = time.perf_counter()
            self.bar.update(segments)
            self.bar.set_postfix(tok_s=f"{self.tokens / max(now - self.start, 1e-9):.0f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass(frozen=True)
class RunSpec:
    """What :func:`run_batches` needs besides the batches themselves."""

    label: str = "translate"
    progress: bool = True
    input_tokens: int = 0
    truncated_sources: int = 0
    # Blank sources: their output is "" without running the model (which would invent text,
    # and differently per backend). Reported through on_batch before the first batch.
    blank: tuple[int, ...] = ()
    # When work began, if before run_batches (CTranslate2 starts on submission).
    started: float | None = None


def blank_positions(sources: Sequence[str]) -> tuple[int, ...]:
    """Positions of sources that are empty or whitespace only."""
    return tuple(i for i, s in enumerate(sources) if not s.strip())


def initial_flags(n: int, truncated_sources: Sequence[int] = ()) -> list[tuple[str, ...]]:
    """Per-position translator flags before generation: ``source_truncated`` where the
    source was cut to the model's input limit."""
    flags: list[tuple[str, ...]] = [()] * n
    for pos in truncated_sources:
        flags[pos] = ("source_truncated",)
    return flags


def run_batches(
    n: int,
    batches: Sequence[Sequence[int]],
    step: Callable[[Sequence[int]], BatchResult],
    on_batch: BatchCallback | None,
    spec: RunSpec,
    flags: list[tuple[str, ...]] | None = None,
) -> tuple[list[str], TranslationStats]:
    """Run ``step`` on each batch of input positions; return outputs in input order.

    ``on_batch(positions, hypotheses)`` is called after each batch. ``flags`` (one entry per
    position, see :func:`initial_flags`), when given, gets ``truncated`` added where a step
    reports it, before ``on_batch`` sees that batch, so a callback can store them with the
    outputs. Raises :class:`TranslatorError` when a step returns the wrong number of outputs
    or a position is left without output.
    """
    outputs: list[str | None] = [None] * n
    progress = _Progress(n, spec.label, spec.progress)
    start = spec.started if spec.started is not None else time.perf_counter()
    generated = truncated = 0
    for pos in spec.blank:
        outputs[pos] = ""
    if spec.blank and on_batch is not None:
        on_batch(list(spec.blank), [""] * len(spec.blank))
    progress.update(len(spec.blank), 0)
    try:
        for positions in batches:
            result = step(positions)
            if len(result.hypotheses) != len(positions):
                raise TranslatorError(
                    f"{spec.label}: a batch of {len(positions)} sources produced "
                    f"{len(result.hypotheses)} outputs"
                )
            for pos, hyp in zip(positions, result.hypotheses, strict=True):
                outputs[pos] = hyp
            cut = _mark_truncated(positions, result, flags)
            truncated += cut
            generated += result.output_tokens
            if on_batch is not None:
                on_batch(list(positions), list(result.hypotheses))
            progress.update(len(positions), result.output_tokens)
    finally:
        progress.close()
    seconds = time.perf_counter() - start
    missing = [i for i, out in enumerate(outputs) if out is None]
    if missing:
        raise TranslatorError(f"{spec.label}: no output for input positions {missing[:10]}")
    mem, kind = peak_memory()
    stats = TranslationStats(
        segments=n,
        batches=len(batches),
        seconds=round(seconds, 4),
        input_tokens=spec.input_tokens,
        output_tokens=generated,
        segments_per_s=round(n / seconds, 3) if seconds > 0 else 0.0,
        tokens_per_s=round(generated / seconds, 2) if seconds > 0 else 0.0,
        peak_memory_mb=round(mem, 1),
        peak_memory_kind=kind,
        truncated_sources=spec.truncated_sources,
        blank_sources=len(spec.blank),
        truncated_outputs=truncated,
    )
    return [out for out in outputs if out is not None], stats


def _mark_truncated(
    positions: Sequence[int], result: BatchResult, flags: list[tuple[str, ...]] | None
) -> int:
    """Add ``truncated`` to ``flags`` where the batch says so; return how many."""
    if result.truncated is None:
        return 0
    cut = [pos for pos, t in zip(positions, result.truncated, strict=True) if t]
    if flags is not None:
        for pos in cut:
            flags[pos] = (*flags[pos], "truncated")
    return len(cut)
