"""The neural metrics (COMET, CometKiwi, xCOMET, MetricX-24) as registry entries.

Each is per-segment scores whose corpus score is their mean, so their statistics are
``("score", "count")`` rows (:func:`~harness.metrics.registry.segment_stats`): bootstrap
intervals and paired tests then work on them exactly as on BLEU's. The signature names the
checkpoint and the revision it resolved to, the encoder or tokenizer, the number of references
used, the dtype and the harness version.

A loaded metric model stays in memory until another one is asked for or :func:`release_models`
is called: the runner scores every leaf with one metric before the next (``kind="neural"``), so
only one metric model is ever loaded at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from harness.errors import MetricError
from harness.metrics.registry import (
    CorpusScore,
    Extracted,
    MetricConfig,
    MetricInputs,
    MetricSpec,
    mean_of_segments,
    segment_stats,
)

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

SCORES_FILE = "neural-scores.sqlite"  # per-segment scores, under the run's cache_dir


class NeuralMetricConfig(MetricConfig):
    """``{name: comet, model: <hub id or folder>, revision: ..., batch_size: ..., ...}``."""

    model: str | None = None  # default: the metric's published checkpoint
    revision: str | None = None
    batch_size: int = Field(default=16, gt=0)
    device: str = Field(default="auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"

    def with_base_dir(self, base_dir: Path) -> NeuralMetricConfig:
        """A relative local checkpoint folder is taken from the config file's folder."""
        if self.model is None:
            return self
        from harness.config import resolve_model_path

        return self.model_copy(update={"model": resolve_model_path(self.model, base_dir)})


class MetricXConfig(NeuralMetricConfig):
    tokenizer: str | None = None  # default: google/mt5-xl, as MetricX-24 uses

    def with_base_dir(self, base_dir: Path) -> MetricXConfig:
        out = super().with_base_dir(base_dir)
        if out.tokenizer is None:
            return out
        from harness.config import resolve_model_path

        return out.model_copy(update={"tokenizer": resolve_model_path(out.tokenizer, base_dir)})


_loaded: dict[str, Any] = {}  # one metric model at a time: config key -> scorer


def _config_key(config: MetricConfig) -> str:
    return json.dumps(config.model_dump(mode="json"), sort_keys=True)


def release_models() -> None:
    """Free the loaded metric model (before the next one, or at the end of scoring)."""
    for scorer in list(_loaded.values()):
        release = getattr(scorer, "release", None)
        if release is not None:
            release()
    _loaded.clear()
    import gc

    gc.collect()


def _scorer(config: NeuralMetricConfig, model: str, load: Any) -> Any:
    key = _config_key(config)
    if key not in _loaded:
        release_models()
        log.info("loading metric %s (%s); on a CPU this is slow", config.name, model)
        with _named(config.name):
            _loaded[key] = load()
    return _loaded[key]


@contextlib.contextmanager
def _named(metric: str) -> Iterator[None]:
    """A missing COMET checkpoint's hint names the metric that asked for it."""
    from harness.metrics.neural.checkpoint import (
        CheckpointNotFoundError,
        checkpoint_hint,
        missing_error,
    )

    try:
        yield
    except CheckpointNotFoundError as e:
        if e.what != "metric checkpoint":
            raise
        raise missing_error(e.what, e.name, checkpoint_hint(e.name, metric)) from e


def _comet_check(name: str):
    def check(config: MetricConfig) -> None:
        """Before anything is translated: a local checkpoint folder has the COMET layout; a
        hub checkpoint is in the local cache when the hub may not be asked (offline)."""
        from harness.hub import offline_requested
        from harness.metrics.neural import DEFAULT_CHECKPOINTS
        from harness.metrics.neural.checkpoint import locate, looks_like_path

        assert isinstance(config, NeuralMetricConfig)
        model = config.model or DEFAULT_CHECKPOINTS[name]
        if looks_like_path(model) or offline_requested():  # online, the hub may fetch it later
            with _named(config.name):
                locate(model, config.revision)

    return check


def _metricx_check(config: MetricConfig) -> None:
    """Before anything is translated: the model and tokenizer folders exist, or are in the
    local cache when the hub may not be asked."""
    from harness.metrics.neural.metricx_load import resolve_sources

    resolve_sources(_metricx_settings(config))


def _metricx_settings(config: MetricConfig) -> Any:
    from harness.metrics.neural.metricx import DEFAULT_MODEL, DEFAULT_TOKENIZER, MetricXSettings

    assert isinstance(config, MetricXConfig)
    return MetricXSettings(
        model=config.model or DEFAULT_MODEL,
        revision=config.revision,
        tokenizer=config.tokenizer or DEFAULT_TOKENIZER,
        device=config.device,
        dtype=config.dtype,
        batch_size=config.batch_size,
    )


def _first_references(inputs: MetricInputs, needed: bool, name: str) -> list[str] | None:
    if inputs.references is None:
        if needed:
            raise MetricError(f"{name} needs references")
        return None
    return [refs[0] for refs in inputs.references]


def _sources(inputs: MetricInputs, name: str) -> list[str]:
    if inputs.sources is None:
        raise MetricError(f"{name} needs the sources (harness score: --src)")
    return list(inputs.sources)


def _segment_cache(inputs: MetricInputs) -> Any:
    if inputs.cache_dir is None:
        return None
    from harness.metrics.neural import SqliteSegmentCache

    return SqliteSegmentCache(Path(inputs.cache_dir) / SCORES_FILE)


def _comet_extract(name: str, reference: str):
    def extract(config: MetricConfig, inputs: MetricInputs) -> Extracted:
        from harness.metrics.neural import DEFAULT_CHECKPOINTS, load_comet
        from harness.metrics.neural.remembered import comet_pin, pin_key

        assert isinstance(config, NeuralMetricConfig)
        model = config.model or DEFAULT_CHECKPOINTS[name]
        cache = _segment_cache(inputs)
        pin = None if cache is None else pin_key(comet_pin(config, model))
        facts = None if pin is None else cache.get_facts(pin)
        if facts is not None:
            done = _comet_from_cache(name, reference, facts, inputs, cache)
            if done is not None:
                return done  # every segment cached: the model is not loaded
        scorer = _scorer(
            config,
            model,
            lambda: load_comet(
                model,
                config.revision,
                device=config.device,
                dtype=config.dtype,
                batch_size=config.batch_size,
            ),
        )
        if pin is not None:
            cache.put_facts(pin, _comet_facts(scorer, name))
        wanted = reference != "none" and scorer.uses_references
        refs = _first_references(inputs, reference == "required", name) if wanted else None
        out = scorer.score(_sources(inputs, name), list(inputs.hypotheses), refs, cache=cache)
        nrefs = 0 if refs is None else 1
        extra = {"error_spans": out.error_spans} if out.error_spans is not None else {}
        return Extracted(segment_stats(out.scores), scorer.signature(name, nrefs), extra)

    return extract


def _comet_facts(scorer: Any, name: str) -> dict[str, Any]:
    """What ``extract`` needs from a loaded COMET scorer to answer from the cache alone."""
    return {
        "identity_key": scorer.identity_key(),
        "uses_references": scorer.uses_references,
        "requires_references": scorer.requires_references,
        "word_level": scorer.word_level,
        "signatures": {str(n): scorer.signature(name, n) for n in (0, 1)},
    }


def _comet_from_cache(
    name: str, reference: str, facts: dict[str, Any], inputs: MetricInputs, cache: Any
) -> Extracted | None:
    """What the loaded scorer would return, when the cache has every segment; else None."""
    from harness.metrics.neural.comet import segment_key

    wanted = reference != "none" and facts["uses_references"]
    refs = _first_references(inputs, reference == "required", name) if wanted else None
    if refs is None and facts["requires_references"]:
        return None  # the loaded scorer says what is missing
    sources, hyps = _sources(inputs, name), list(inputs.hypotheses)
    if len(sources) != len(hyps):
        return None
    rs = refs if refs is not None else [None] * len(hyps)
    keys = [
        segment_key(facts["identity_key"], facts["uses_references"], s, h, r)
        for s, h, r in zip(sources, hyps, rs, strict=True)
    ]
    hits = cache.get_many(keys)
    if any(k not in hits for k in keys):
        return None
    values = [hits[k] for k in keys]
    extra = {"error_spans": [v["error_spans"] for v in values]} if facts["word_level"] else {}
    nrefs = 0 if refs is None else 1
    stats = segment_stats([float(v["score"]) for v in values])
    return Extracted(stats, facts["signatures"][str(nrefs)], extra)


def _metricx_extract(config: MetricConfig, inputs: MetricInputs) -> Extracted:
    from harness.metrics.neural.metricx import MetricXScorer
    from harness.metrics.neural.remembered import metricx_pin, pin_key

    settings = _metricx_settings(config)
    refs = _first_references(inputs, False, "metricx")
    mode = "qe" if refs is None else "ref"
    sources, hyps = _sources(inputs, "metricx"), list(inputs.hypotheses)
    cache = _segment_cache(inputs)
    pin = None if cache is None else pin_key(metricx_pin(config, settings))
    facts = None if pin is None else cache.get_facts(pin)
    if facts is not None:
        keys = _score_keys(facts["identity"][mode], sources, hyps, refs)
        hits = cache.get_many(keys)
        if all(k in hits for k in keys):  # the model is not loaded
            scores = [float(hits[k]["score"]) for k in keys]
            return Extracted(segment_stats(scores), facts["signature"][mode])
    scorer = _scorer(config, settings.model, lambda: MetricXScorer.load(settings))
    if pin is not None:
        modes = ("ref", "qe")
        cache.put_facts(
            pin,
            {
                "identity": {m: scorer.identity(m) for m in modes},
                "signature": {m: scorer.signature(m) for m in modes},
            },
        )
    scores = _cached_scores(inputs, scorer.identity(mode), sources, hyps, refs, scorer.score)
    return Extracted(segment_stats(scores), scorer.signature(mode))


def _score_keys(
    identity: dict[str, Any], sources: Sequence[str], hyps: Sequence[str], refs: Any
) -> list[str]:
    """Per-segment cache keys of a MetricX scorer with this identity."""
    blob = json.dumps(identity, sort_keys=True)
    rs = refs if refs is not None else [None] * len(hyps)
    return [
        hashlib.sha256(json.dumps([blob, s, h, r], ensure_ascii=False).encode()).hexdigest()
        for s, h, r in zip(sources, hyps, rs, strict=True)
    ]


def _cached_scores(
    inputs: MetricInputs,
    identity: dict[str, Any],
    sources: Sequence[str],
    hyps: Sequence[str],
    refs: Sequence[str] | None,
    score: Any,
) -> list[float]:
    """Segment scores, from the cache where known (keyed by identity, source, hypothesis and
    reference), computing only the rest."""
    cache = _segment_cache(inputs)
    if cache is None:
        return list(score(sources, hyps, refs))
    keys = _score_keys(identity, sources, hyps, refs)
    known = cache.get_many(keys)
    todo = [i for i, k in enumerate(keys) if k not in known]
    if todo:
        fresh = score(
            [sources[i] for i in todo],
            [hyps[i] for i in todo],
            None if refs is None else [refs[i] for i in todo],
        )
        cache.put_many({keys[i]: {"score": v} for i, v in zip(todo, fresh, strict=True)})
        known.update({keys[i]: {"score": v} for i, v in zip(todo, fresh, strict=True)})
    return [float(known[k]["score"]) for k in keys]


def _mean(stats: np.ndarray) -> CorpusScore:
    count = float(stats[:, 1].sum())
    return CorpusScore(float(stats[:, 0].sum() / count) if count else 0.0, {"segments": count})


def _segments(stats: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.asarray(stats[:, 0], dtype=np.float64)


def _spec(name: str, display: str, extract: Any, **kwargs: Any) -> MetricSpec:
    return MetricSpec(
        name=name,
        display_name=display,
        title=display,
        columns=("score", "count"),
        extract=extract,
        corpus_score=_mean,
        scores_from_totals=mean_of_segments,
        segment_scores=_segments,
        uses_source=True,
        kind="neural",
        **kwargs,
    )


COMET = _spec(
    "comet",
    "COMET",
    _comet_extract("comet", "required"),
    higher_is_better=True,
    config_class=NeuralMetricConfig,
    check=_comet_check("comet"),
    description="COMET (default Unbabel/wmt22-comet-da), re-implemented on transformers",
    decimals=4,  # a 0-1 scale, printed with 4 decimals as unbabel-comet does
)
COMETKIWI = _spec(
    "cometkiwi",
    "CometKiwi",
    _comet_extract("cometkiwi", "none"),
    higher_is_better=True,
    reference="none",
    config_class=NeuralMetricConfig,
    check=_comet_check("cometkiwi"),
    description="CometKiwi quality estimation (default Unbabel/wmt22-cometkiwi-da), no reference",
    decimals=4,
)
XCOMET = _spec(
    "xcomet",
    "xCOMET",
    _comet_extract("xcomet", "optional"),
    higher_is_better=True,
    reference="optional",
    config_class=NeuralMetricConfig,
    check=_comet_check("xcomet"),
    description="xCOMET (default Unbabel/XCOMET-XL) with error spans",
    decimals=4,
)
METRICX = _spec(
    "metricx",
    "MetricX-24",
    _metricx_extract,
    higher_is_better=False,
    reference="optional",
    config_class=MetricXConfig,
    check=_metricx_check,
    description="MetricX-24 (default google/metricx-24-hybrid-large-v2p6), 0-25, lower is better",
    decimals=2,
)
