"""The Python API, for notebooks and scripts: :func:`evaluate` a config, :func:`score` lists.

Both raise :mod:`harness.errors` exceptions (never exit), log like the CLI only when asked
(``verbose=True`` or ``log_level=``), and import torch only when a model must run.

References for :func:`score` are taken as sacrebleu's ``corpus_score`` takes them: a list of
reference *streams*, ``[[ref1 of seg 1, ref1 of seg 2, ...], [ref2 of seg 1, ...]]``, or a flat
list of strings for a single reference. Shapes that could mean something else are refused
rather than guessed (see :func:`reference_streams`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from harness.api_results import EvaluationResult, MetricScore, ResultEntry, ScoreResult
from harness.errors import ConfigError, MetricError

Layout = Literal["streams", "items"]

__all__ = ["EvaluationResult", "MetricScore", "ResultEntry", "ScoreResult", "evaluate", "score"]


def evaluate(
    config: str | Path | Mapping[str, Any],
    overrides: Sequence[str] | Mapping[str, Any] | None = None,
    *,
    use_cache: bool = True,
    baseline: str | None = None,
    base_dir: str | Path | None = None,
    verbose: bool = False,
    log_level: int | str | None = None,
) -> EvaluationResult:
    """Run a whole evaluation, as ``harness run`` does, and return its results.

    ``config`` is a YAML file's path, or a dict shaped like one (relative paths in it are
    taken from ``base_dir``, default the current folder). ``overrides`` are ``--set`` values:
    ``["models.0.batch_size=8"]`` or ``{"models.0.batch_size": 8}``. ``baseline`` names the
    model to test the others against. The run folder is written as by the CLI; the result
    has one entry per (model, dataset), in config order.
    """
    from harness.config import load_config, validate_config
    from harness.hub import decide_when_needed
    from harness.runner import RunOptions, run_evaluation
    from harness.store import read_results

    sets = _override_strings(overrides)
    if baseline is not None:
        sets.append(f"statistics.baseline={json.dumps(baseline)}")
    with _logging(verbose, log_level):
        if isinstance(config, Mapping):
            where = Path(base_dir) if base_dir is not None else Path.cwd()
            resolved = validate_config(dict(config), sets, base_dir=where.resolve())
        elif isinstance(config, (str, Path)):
            resolved = load_config(config, sets)
        else:
            raise ConfigError(f"config must be a path or a dict, not {type(config).__name__}")
        decide_when_needed()
        # No live bars in a notebook cell; progress goes to the log lines instead.
        leaves = run_evaluation(resolved, RunOptions(use_cache=use_cache, progress=False))
    entries = tuple(
        ResultEntry.from_results(leaf.path, read_results(leaf.path / "results.json"))
        for leaf in leaves
    )
    return EvaluationResult(run_dir=resolved.run_dir, entries=entries)


def _override_strings(overrides: Sequence[str] | Mapping[str, Any] | None) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        # JSON is YAML, so every value reads back as given ("2024" stays a string).
        return [f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in overrides.items()]
    if isinstance(overrides, str):
        return [overrides]
    return [str(o) for o in overrides]


def score(
    hypotheses: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    sources: Sequence[str] | None = None,
    metrics: Sequence[str] = ("bleu", "chrf"),
    *,
    tone_marks: str = "keep",
    quotes: str = "keep",
    bootstrap_resamples: int = 1000,
    seed: int = 12345,
    references_layout: Layout | None = None,
    verbose: bool = False,
    log_level: int | str | None = None,
) -> ScoreResult:
    """Corpus scores of ``hypotheses`` with 95% bootstrap intervals; no torch, no model.

    ``references``: a list of reference streams (each as long as ``hypotheses``), exactly as
    sacrebleu's ``corpus_score`` takes them, or a flat list of strings (one reference). On
    NFC text with the defaults, ``.score`` and ``.signature`` equal sacrebleu's. Texts are put
    in NFC with plain spaces first; when that changes anything, or ``tone_marks``/``quotes``
    ask for a style, signatures end in ``|textnorm:...``. ``references_layout="items"`` accepts
    one list of references per segment instead; ``"streams"`` settles a square shape.
    ``sources`` are checked for alignment (validity checks will use them; see ScoreResult).
    """
    from harness.metrics import evaluate as evaluate_metrics
    from harness.metrics.evaluate import signature_with_norm
    from harness.textnorm import NormalizationSpec

    with _logging(verbose, log_level):
        hyps = _strings(hypotheses, "hypotheses")
        streams = reference_streams(references, len(hyps), references_layout)
        if sources is not None:
            src = _strings(sources, "sources")
            if len(src) != len(hyps):
                raise MetricError(f"{len(hyps)} hypotheses but {len(src)} sources")
        spec = NormalizationSpec(tone_marks=tone_marks, quotes=quotes)  # ConfigError if bad
        items = [list(refs) for refs in zip(*streams, strict=True)]
        result = evaluate_metrics(
            hyps, items, list(metrics), spec, bootstrap_resamples=bootstrap_resamples, seed=seed
        )
    counts = result.changed
    # As `harness score` does: sacrebleu's signature unless the text scored is not the input.
    changed = counts.boundary_hypotheses or counts.boundary_references
    tag = None if spec.is_identity and not changed else spec.tag
    scores = {}
    for name, record in result.scores.items():
        payload = record.to_json()
        signature = record.sacrebleu_signature
        payload["signature"] = signature if tag is None else signature_with_norm(signature, tag)
        scores[name] = MetricScore.from_json(name, payload)
    return ScoreResult(
        scores=scores,
        segments=len(hyps),
        references_per_segment=len(streams),
        normalization=result.normalization_json(),
    )


def _strings(values: Any, what: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise MetricError(f"{what} must be a list of strings, not {type(values).__name__}")
    out = list(values)
    if not out:
        raise MetricError(f"no {what}")
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise MetricError(f"{what}[{i}] is {type(text).__name__}, not a string")
    return out


def reference_streams(references: Any, n: int, layout: Layout | None = None) -> list[list[str]]:
    """References as a list of streams (``streams[k][i]`` = reference k of segment i).

    The rule, for ``n`` hypotheses:

    * a flat list of ``n`` strings is one stream;
    * a list of lists of strings is read as sacrebleu reads it, one list per stream: every
      list must have ``n`` entries;
    * refused: lists of other lengths when there are ``n`` of them (that is one list per
      segment, item-major: pass ``references_layout="items"``), and, for ``n >= 2``, exactly
      ``n`` lists of ``n`` (it reads both ways; say which with ``references_layout``). For
      ``n == 1`` both readings are the same ``[[ref]]``.
    """
    if layout not in (None, "streams", "items"):
        raise MetricError(f"references_layout must be 'streams' or 'items', not {layout!r}")
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise MetricError(
            f"references must be a list (of strings, or of reference streams), "
            f"not {type(references).__name__}"
        )
    refs = list(references)
    if not refs:
        raise MetricError("no references")
    if all(isinstance(r, str) for r in refs):
        if layout == "items":
            raise MetricError("references_layout='items' needs one list of references per segment")
        return [_one_stream(refs, n, "references")]
    if any(isinstance(r, str) or not isinstance(r, Sequence) for r in refs):
        raise MetricError(
            "references mixes strings and lists: give a flat list of strings (one reference) "
            "or a list of reference streams (lists of strings)"
        )
    lists = [_strings(r, f"references[{k}]") for k, r in enumerate(refs)]
    if layout == "items":
        return _items_to_streams(lists, n)
    square = len(lists) == n and all(len(r) == n for r in lists)
    if layout is None and square and n >= 2:
        raise MetricError(
            f"references is {n} lists of {n} strings for {n} hypotheses: that reads both as "
            f"{n} reference streams (sacrebleu's layout) and as {n} references per segment; "
            "say which with references_layout='streams' or 'items'"
        )
    bad = next((k for k, r in enumerate(lists) if len(r) != n), None)
    if bad is not None:
        if layout is None and len(lists) == n:
            raise MetricError(
                f"references has one list per segment ({n} lists for {n} hypotheses, "
                f"list {bad} with {len(lists[bad])} entries): sacrebleu's layout is one list "
                "per reference stream; pass references_layout='items' or transpose it"
            )
        raise MetricError(
            f"reference stream {bad} has {len(lists[bad])} entries for {n} hypotheses"
        )
    return lists


def _one_stream(refs: list[str], n: int, what: str) -> list[str]:
    if len(refs) != n:
        raise MetricError(f"{n} hypotheses but {len(refs)} {what}")
    return refs


def _items_to_streams(lists: list[list[str]], n: int) -> list[list[str]]:
    if len(lists) != n:
        raise MetricError(f"{n} hypotheses but {len(lists)} reference lists (one per segment)")
    counts = {len(r) for r in lists}
    if len(counts) != 1:
        raise MetricError(
            f"segments have different numbers of references ({sorted(counts)}); "
            "every segment needs the same number"
        )
    return [list(stream) for stream in zip(*lists, strict=True)]


@contextlib.contextmanager
def _logging(verbose: bool, log_level: int | str | None) -> Iterator[None]:
    """The CLI's log lines on stderr for the duration of one call, when asked; otherwise
    the application's own logging configuration decides (the library adds no handler)."""
    if not verbose and log_level is None:
        yield
        return
    level = logging.DEBUG if verbose else log_level
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
        if not isinstance(level, int):
            raise ConfigError(f"log_level {log_level!r}: use DEBUG, INFO, WARNING or ERROR")
    logger = logging.getLogger("harness")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # no second copy through a notebook's root handler
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
