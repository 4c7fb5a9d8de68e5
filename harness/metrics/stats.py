"""Per-segment sufficient statistics, and corpus scores computed back from them.

Extraction goes through sacrebleu's own ``_extract_corpus_statistics`` (its tokenizers, its
multi-reference rules), so nothing here re-implements tokenization. What *is* re-implemented is
the last step, "summed statistics -> score", vectorized over many resamples at once; sacrebleu
does it one resample at a time in Python, which is what makes its ``--paired-bs`` slow.

Shapes: ``stats`` is ``(n_segments, n_columns)``; ``totals`` is ``(n_resamples, n_columns)``.
Columns (sacrebleu's order):

* bleu: ``hyp_len, ref_len, correct_1..4, total_1..4`` (ints; ``ref_len`` is the closest ref)
* chrf / chrf++: ``[hyp, ref, match]`` per order, char orders 1..6 then word orders 1..2 (ints)
* ter: ``edits, avg_ref_len`` (floats; the average is over a segment's references)
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.errors import MetricError
from harness.metrics.sacre import COLUMNS, make_metric, to_streams

if TYPE_CHECKING:
    from sacrebleu.metrics.base import Score


# sacrebleu's floor for log(0) (sacrebleu.utils.my_log).
_LOG_ZERO = -9999999999.0
_CHRF_BETA = 2
_CHRF_EPS = 1e-16


# Segments per sacrebleu call. sacrebleu caches every reference's n-grams (chrF keeps Counters
# of six character orders per reference) before scoring any hypothesis: about 60 KiB per
# segment, so a whole 20,000-segment corpus at once peaks above 1 GiB. A segment's statistics
# do not depend on the other segments, so extracting in chunks changes no number.
CHUNK_SEGMENTS = 500
# sacrebleu warns when this many hypotheses end in " ." (text left tokenized), over the corpus.
_TOKENIZED_WARN_AT = 100


def extract_stats(
    name: str, hyps: Sequence[str], refs: Sequence[Sequence[str]]
) -> tuple[np.ndarray, str]:
    """Per-segment statistics of one metric and the sacrebleu signature that goes with them.

    ``refs`` is item-major. Returns an int64 array for BLEU/chrF, float64 for TER. Memory is
    bounded by :data:`CHUNK_SEGMENTS`, whatever the corpus size.
    """
    to_streams(hyps, refs)  # alignment checks over the whole corpus, before any work
    metric = make_metric(name)
    if name == "bleu":
        _warn_if_tokenized(hyps)
        metric._force = True  # warned above, once for the corpus, not once per chunk
    dtype = np.float64 if name == "ter" else np.int64
    stats = np.empty((len(hyps), len(COLUMNS[name])), dtype=dtype)
    for start in range(0, len(hyps), CHUNK_SEGMENTS):
        chunk_hyps = list(hyps[start : start + CHUNK_SEGMENTS])
        streams = to_streams(chunk_hyps, refs[start : start + CHUNK_SEGMENTS])
        rows = metric._extract_corpus_statistics(chunk_hyps, streams)
        if len(rows) != len(chunk_hyps):  # sacrebleu zips without checking: make it loud
            raise MetricError(f"{name}: {len(rows)} statistics rows for {len(chunk_hyps)} lines")
        stats[start : start + len(rows)] = np.asarray(rows, dtype=dtype).reshape(len(rows), -1)
    return stats, signature_of(name, reference_count(refs))


def reference_count(refs: Sequence[Sequence[str | None]]) -> int:
    """sacrebleu's ``nrefs`` of a corpus: the references per segment, or -1 ("var") when
    segments have different numbers of them. A corpus property: chunks must not decide it."""
    counts = {sum(r is not None for r in seg_refs) for seg_refs in refs}
    return counts.pop() if len(counts) == 1 else -1


@functools.cache
def signature_of(name: str, num_refs: int = 1) -> str:
    """sacrebleu's signature of ``name`` with the CLI's defaults, for a corpus with
    ``num_refs`` references per segment (-1: varying), without extracting anything."""
    metric = make_metric(name)
    metric.num_refs = num_refs
    return str(metric.get_signature().format())


def _warn_if_tokenized(hyps: Sequence[str]) -> None:
    """sacrebleu's own warning, with its words and logger, once per corpus."""
    if sum(h.endswith(" .") for h in hyps) < _TOKENIZED_WARN_AT:
        return
    sacrelogger = logging.getLogger("sacrebleu")
    sacrelogger.warning("That's 100 lines that end in a tokenized period ('.')")
    sacrelogger.warning(
        "It looks like you forgot to detokenize your test data, which may hurt your score."
    )
    sacrelogger.warning(
        "If you insist your data is detokenized, or don't care, you can suppress this "
        "message with the `force` parameter."
    )


def check_stats(name: str, stats: np.ndarray, where: str = "") -> None:
    """Raise MetricError unless ``stats`` has the shape ``name``'s statistics must have."""
    if name not in COLUMNS:
        raise MetricError(f"{where}unknown metric {name!r} in statistics")
    want = len(COLUMNS[name])
    if stats.ndim != 2 or stats.shape[1] != want or stats.shape[0] == 0:
        raise MetricError(
            f"{where}{name} statistics have shape {stats.shape}; expected (n_segments, {want})"
        )


def corpus_totals(name: str, stats: np.ndarray) -> list[Any]:
    """Column sums as sacrebleu's ``sum_of_lists`` makes them: Python ints for counts, and a
    left-to-right float sum for TER's average reference lengths (so rounding matches too)."""
    if name != "ter":
        return [int(v) for v in stats.sum(axis=0, dtype=np.int64)]
    edits = stats[:, 0]
    if np.all(edits == np.round(edits)):
        total_edits: float | int = int(edits.sum())
    else:
        total_edits = float(np.cumsum(edits)[-1])
    return [total_edits, float(np.cumsum(stats[:, 1])[-1])]


def sacre_score(name: str, stats: np.ndarray) -> Score:
    """sacrebleu's own Score object (with its verbose details) for the summed ``stats``."""
    check_stats(name, stats)
    return make_metric(name)._compute_score_from_stats(corpus_totals(name, stats))


def scores_from_totals(name: str, totals: np.ndarray) -> np.ndarray:
    """Vectorized scores for ``totals`` of shape ``(R, n_columns)`` -> ``(R,)``.

    Mirrors sacrebleu 2.x's ``_compute_score_from_stats`` with the CLI defaults (BLEU: exp
    smoothing, no effective order; chrF: beta 2, effective-order averaging; TER: edits / ref).
    """
    totals = np.asarray(totals, dtype=np.float64)
    if totals.ndim != 2 or totals.shape[1] != len(COLUMNS.get(name, ())):
        raise MetricError(f"{name}: totals of shape {totals.shape} do not fit its statistics")
    if name == "bleu":
        return _bleu(totals)
    if name in ("chrf", "chrf++"):
        return _chrf(totals)
    return _ter(totals)


def _bleu(totals: np.ndarray) -> np.ndarray:
    sys_len, ref_len = totals[:, 0], totals[:, 1]
    correct, total = totals[:, 2:6], totals[:, 6:10]
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(
            sys_len < ref_len,
            np.where(sys_len > 0, np.exp(1 - ref_len / np.where(sys_len > 0, sys_len, 1)), 0.0),
            1.0,
        )
    # sacrebleu stops at the first order with no hypothesis n-grams; later precisions stay 0.
    valid = np.cumprod(total > 0, axis=1).astype(bool)
    # exp smoothing: each order with zero matches halves the pseudo-count again.
    halvings = np.cumsum(valid & (correct == 0), axis=1)
    safe_total = np.where(total > 0, total, 1.0)
    precision = np.where(
        correct > 0, 100.0 * correct / safe_total, 100.0 / (2.0**halvings * safe_total)
    )
    precision = np.where(valid, precision, 0.0)
    log_sum = np.zeros(len(totals))
    for n in range(4):  # left-to-right, like sacrebleu's sum([...])
        p = precision[:, n]
        log_sum = log_sum + np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), _LOG_ZERO)
    score = bp * np.exp(log_sum / 4)
    return np.where(correct.any(axis=1), score, 0.0)


def _chrf(totals: np.ndarray) -> np.ndarray:
    factor = _CHRF_BETA**2
    rows = len(totals)
    avg_prec, avg_rec, eff = np.zeros(rows), np.zeros(rows), np.zeros(rows)
    for i in range(totals.shape[1] // 3):
        n_hyp, n_ref, n_match = totals[:, 3 * i], totals[:, 3 * i + 1], totals[:, 3 * i + 2]
        prec = np.where(n_hyp > 0, n_match / np.where(n_hyp > 0, n_hyp, 1.0), _CHRF_EPS)
        rec = np.where(n_ref > 0, n_match / np.where(n_ref > 0, n_ref, 1.0), _CHRF_EPS)
        both = (n_hyp > 0) & (n_ref > 0)
        avg_prec = np.where(both, avg_prec + prec, avg_prec)
        avg_rec = np.where(both, avg_rec + rec, avg_rec)
        eff = eff + both
    safe_eff = np.where(eff > 0, eff, 1.0)
    avg_prec = np.where(eff > 0, avg_prec / safe_eff, 0.0)
    avg_rec = np.where(eff > 0, avg_rec / safe_eff, 0.0)
    num = (1 + factor) * avg_prec * avg_rec
    denom = factor * avg_prec + avg_rec
    nonzero = (avg_prec + avg_rec) != 0
    return np.where(nonzero, 100 * (num / np.where(nonzero, denom, 1.0)), 0.0)


def _ter(totals: np.ndarray) -> np.ndarray:
    edits, ref = totals[:, 0], totals[:, 1]
    ratio = np.where(ref > 0, edits / np.where(ref > 0, ref, 1.0), np.where(edits > 0, 1.0, 0.0))
    return 100 * ratio


def segment_scores(name: str, stats: np.ndarray) -> list[float]:
    """Per-segment chrF/chrF++/TER from per-segment statistics; equal to sacrebleu's
    ``sentence_score`` because a segment's statistics row is exactly what it sums."""
    if name == "bleu":  # sentence BLEU needs effective order; its corpus stats do not fit
        raise MetricError("per-segment BLEU is not derived from corpus statistics")
    check_stats(name, stats)
    return [float(x) for x in scores_from_totals(name, stats)]
