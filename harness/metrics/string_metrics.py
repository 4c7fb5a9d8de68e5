"""The sacrebleu metrics (BLEU, chrF, chrF++, TER) as registry entries.

Statistics come from sacrebleu's own extraction (:mod:`harness.metrics.stats`), signatures are
sacrebleu's, and corpus scores are sacrebleu's ``_compute_score_from_stats`` on the summed
statistics, so every number equals the ``sacrebleu`` CLI's on the same (NFC) text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.errors import MetricError
from harness.metrics.registry import (
    CorpusScore,
    Extracted,
    MetricConfig,
    MetricInputs,
    MetricSpec,
)
from harness.metrics.sacre import COLUMNS, SACRE_RECIPES
from harness.versions import installed_version

if TYPE_CHECKING:
    import numpy as np

# harness.metrics.stats (sacrebleu's extraction, numpy) is imported inside the functions that
# compute: building the registry, or a rerun whose numbers are all remembered, needs neither.


def _extractor(name: str):
    def extract(config: MetricConfig, inputs: MetricInputs) -> Extracted:
        if inputs.references is None:
            raise MetricError(f"{name} needs references")
        from harness.metrics import stats as sacre_stats

        stats, signature = sacre_stats.extract_stats(name, inputs.hypotheses, inputs.references)
        return Extracted(stats, signature)

    return extract


def _corpus(name: str):
    def corpus_score(stats: np.ndarray) -> CorpusScore:
        from harness.metrics import stats as sacre_stats

        score = sacre_stats.sacre_score(name, stats)
        return CorpusScore(float(score.score), _details(name, score))

    return corpus_score


def _details(name: str, score: Any) -> dict[str, Any]:
    if name == "bleu":
        return {
            "precisions": [round(float(p), 4) for p in score.precisions],
            "bp": round(float(score.bp), 4),
            "ratio": round(float(score.ratio), 4),
            "sys_len": int(score.sys_len),
            "ref_len": int(score.ref_len),
            "verbose": score._verbose,
        }
    if name == "ter":
        return {"edits": float(score.num_edits), "ref_length": float(score.ref_length)}
    return {}


def _identity(name: str):
    def identity(config: MetricConfig) -> dict[str, Any]:
        # sacrebleu's version and the metric's constructor arguments: the whole recipe, and
        # what its signature is made from (nrefs aside: a property of the corpus, not of a
        # segment's row). Read without importing sacrebleu, so a cached rerun never does.
        class_name, options = SACRE_RECIPES[name]
        return {"sacrebleu": installed_version("sacrebleu"), "class": class_name, **options}

    return identity


def _signature(name: str):
    def signature(config: MetricConfig, inputs: MetricInputs) -> str:
        if inputs.references is None:
            raise MetricError(f"{name} needs references")
        from harness.metrics import stats as sacre_stats

        return sacre_stats.signature_of(name, sacre_stats.reference_count(inputs.references))

    return signature


def _spec(name: str, display: str, title: str, *, higher: bool = True, per_segment: bool = True):
    def totals(t: np.ndarray) -> np.ndarray:
        from harness.metrics import stats as sacre_stats

        return sacre_stats.scores_from_totals(name, t)

    def segments(stats: np.ndarray) -> np.ndarray:
        import numpy as np

        from harness.metrics import stats as sacre_stats

        return np.asarray(sacre_stats.segment_scores(name, stats))

    return MetricSpec(
        name=name,
        display_name=display,
        title=title,
        higher_is_better=higher,
        columns=COLUMNS[name],
        extract=_extractor(name),
        corpus_score=_corpus(name),
        scores_from_totals=totals,
        segment_scores=segments if per_segment else None,
        description=f"sacrebleu {display} with the sacrebleu CLI's defaults",
        identity=_identity(name),
        signature=_signature(name),
    )


# Sentence BLEU needs effective order, which its corpus statistics do not give: no segment scores.
BLEU = _spec("bleu", "BLEU", "BLEU", per_segment=False)
CHRF = _spec("chrf", "chrF2", "chrF")
CHRF_PLUS = _spec("chrf++", "chrF2++", "chrF++")
TER = _spec("ter", "TER", "TER", higher=False)
