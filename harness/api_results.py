"""What :func:`harness.evaluate` and :func:`harness.score` return: plain, typed, JSON-able.

``validity`` is a placeholder: the output validity checks (untranslated output, wrong
language, ...) are not on main yet; until they are it is ``None``, and then it will carry
their counts in the same place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class MetricScore:
    """One corpus score.

    ``score`` and ``signature`` are sacrebleu's for the text as scored; ``signature`` ends in
    ``|textnorm:<what>`` when normalization changed the text (or a tone-mark/quote style was
    asked for), because then the number is no longer sacrebleu's on the raw input.
    ``sacrebleu_signature`` is sacrebleu's own, always without the suffix. ``ci95`` is the
    95% bootstrap interval (``None`` with ``bootstrap_resamples=0``).
    """

    metric: str  # bleu | chrf | chrf++ | ter
    name: str  # as sacrebleu prints it: BLEU, chrF2, chrF2++, TER
    score: float
    signature: str
    sacrebleu_signature: str
    ci95: tuple[float, float] | None = None
    plus_minus: float | None = None
    n_resamples: int = 0
    seed: int | None = None
    raw_score: float | None = None  # without the tone-mark/quote normalization, when asked

    @classmethod
    def from_json(cls, metric: str, payload: Mapping[str, Any]) -> MetricScore:
        """From a results.json ``scores`` entry."""
        ci = payload.get("ci95")
        return cls(
            metric=metric,
            name=str(payload["name"]),
            score=float(payload["score"]),
            signature=str(payload["signature"]),
            sacrebleu_signature=str(payload.get("sacrebleu_signature", payload["signature"])),
            ci95=None if ci is None else (float(ci[0]), float(ci[1])),
            plus_minus=payload.get("plus_minus"),
            n_resamples=int(payload.get("n_resamples") or 0),
            seed=payload.get("seed"),
            raw_score=payload.get("raw_score"),
        )

    def __float__(self) -> float:
        return self.score

    def __str__(self) -> str:
        from harness.metrics.registry import get_metric

        digits = max(2, get_metric(self.metric).decimals)
        spread = "" if self.plus_minus is None else f" ± {self.plus_minus:.{max(1, digits - 1)}f}"
        return f"{self.name} = {self.score:.{digits}f}{spread}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ci95"] = None if self.ci95 is None else list(self.ci95)
        return out


@dataclass(frozen=True)
class ScoreResult(Mapping[str, MetricScore]):
    """:func:`harness.score`'s answer: metric name -> :class:`MetricScore`, in the order asked."""

    scores: dict[str, MetricScore]
    segments: int
    references_per_segment: int
    normalization: dict[str, Any]  # what NFC/spaces (and any style) changed, counted
    validity: dict[str, Any] | None = None  # None until the validity checks land (see above)

    def __getitem__(self, metric: str) -> MetricScore:
        return self.scores[metric]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scores)

    def __len__(self) -> int:
        return len(self.scores)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scores": {k: v.to_dict() for k, v in self.scores.items()},
            "segments": self.segments,
            "references_per_segment": self.references_per_segment,
            "normalization": self.normalization,
            "validity": self.validity,
        }


@dataclass(frozen=True)
class ResultEntry:
    """One (model, dataset) of an evaluation, read back from its results.json."""

    model: str
    dataset: str
    path: Path  # the result folder: hypotheses.txt, segments.jsonl, results.json, stats.npz
    scores: dict[str, MetricScore]
    segments: int
    translated_segments: int
    cached_segments: int
    significance: dict[str, Any] | None = None  # with a baseline: paired tests against it
    validity: dict[str, Any] | None = None  # None until the validity checks land
    results: dict[str, Any] = field(default_factory=dict, repr=False)  # results.json, whole

    @classmethod
    def from_results(cls, path: Path, results: dict[str, Any]) -> ResultEntry:
        timing = results.get("timing", {})
        return cls(
            model=str(results["model"]["name"]),
            dataset=str(results["dataset"]["name"]),
            path=path,
            scores={k: MetricScore.from_json(k, v) for k, v in results["scores"].items()},
            segments=int(results["dataset"]["segments"]),
            translated_segments=int(timing.get("translated_segments", 0)),
            cached_segments=int(timing.get("cached_segments", 0)),
            significance=results.get("significance"),
            validity=results.get("validity"),
            results=results,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dataset": self.dataset,
            "path": str(self.path),
            "scores": {k: v.to_dict() for k, v in self.scores.items()},
            "segments": self.segments,
            "translated_segments": self.translated_segments,
            "cached_segments": self.cached_segments,
            "significance": self.significance,
            "validity": self.validity,
        }


@dataclass(frozen=True)
class EvaluationResult:
    """:func:`harness.evaluate`'s answer: one entry per (model, dataset), in config order."""

    run_dir: Path
    entries: tuple[ResultEntry, ...]

    def __iter__(self) -> Iterator[ResultEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, key: int | tuple[str, str]) -> ResultEntry:
        """By position, or by ``(model, dataset)``."""
        if isinstance(key, tuple):
            for entry in self.entries:
                if (entry.model, entry.dataset) == key:
                    return entry
            have = ", ".join(f"({e.model!r}, {e.dataset!r})" for e in self.entries)
            raise KeyError(f"no result for {key!r}; there are {have}")
        return self.entries[key]

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir), "results": [e.to_dict() for e in self.entries]}
