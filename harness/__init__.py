"""envi-mt-harness: evaluation harness for English→Vietnamese machine translation.

The Python API (see the README's "Python API" section)::

    import harness
    result = harness.evaluate("configs/smoke.yaml")        # a whole run, like `harness run`
    scores = harness.score(hyps, [refs])                    # sacrebleu-compatible, with CIs

Both are loaded on first use, so ``import harness`` stays cheap (no numpy, no sacrebleu, no
torch); errors are :mod:`harness.errors` exceptions.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from harness import errors
    from harness.api import EvaluationResult, MetricScore, ResultEntry, ScoreResult, evaluate, score

_API = ("evaluate", "score", "EvaluationResult", "MetricScore", "ResultEntry", "ScoreResult")

__all__ = [
    "EvaluationResult",
    "MetricScore",
    "ResultEntry",
    "ScoreResult",
    "__version__",
    "errors",
    "evaluate",
    "score",
]


def __getattr__(name: str) -> Any:
    # PEP 562: the API module (and numpy/sacrebleu behind it) loads at first access.
    if name in _API:
        value = getattr(importlib.import_module("harness.api"), name)
        globals()[name] = value
        return value
    if name == "errors":
        return importlib.import_module("harness.errors")
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
