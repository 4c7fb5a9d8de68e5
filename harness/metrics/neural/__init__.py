"""Neural MT metrics re-implemented on plain transformers + torch, equal to the originals.

COMET family (unbabel-comet 2.2.7 checkpoints as published): ``load_comet(model, revision)``
returns a :class:`CometScorer`; ``.score(sources, hypotheses, references | None)`` returns
:class:`NeuralScores` (segment scores in input order, xCOMET error spans), ``.identity()``
everything that decides the numbers, ``.signature(name, nrefs)`` a one-line form of it.
MetricX-24 (:mod:`harness.metrics.neural.metricx`): ``load_metricx(model, revision)`` returns a
:class:`~harness.metrics.neural.metricx.MetricXScorer` (lower is better, 0 to 25).
torch and transformers are imported only when a scorer is loaded.
"""

from harness.metrics.neural.cache import MemorySegmentCache, SegmentCache, SqliteSegmentCache
from harness.metrics.neural.checkpoint import CheckpointNotFoundError
from harness.metrics.neural.comet import (
    DEFAULT_CHECKPOINTS,
    CometScorer,
    NeuralScores,
    load_comet,
)

__all__ = [
    "DEFAULT_CHECKPOINTS",
    "CheckpointNotFoundError",
    "CometScorer",
    "MemorySegmentCache",
    "NeuralScores",
    "SegmentCache",
    "SqliteSegmentCache",
    "load_comet",
]
