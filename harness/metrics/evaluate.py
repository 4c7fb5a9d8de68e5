"""Score one system on one dataset: corpus scores, bootstrap intervals, per-segment statistics.

Text flow: boundary normalization (NFC, exotic spaces) on hypotheses and references, then the
scoring :class:`~harness.textnorm.NormalizationSpec` (tone marks, quotes). The primary score is
computed on the spec-normalized text and its signature says so
(``...|version:2.6.0|textnorm:nfc+tone:hòa``; a key of its own, since sacrebleu's TER
signature has a ``norm`` key already); when the spec does more than NFC, the boundary-only
("raw") score is kept beside it, never silently replaced.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import harness
from harness.errors import MetricError, RunFolderError
from harness.metrics.interval import DEFAULT_RESAMPLES, DEFAULT_SEED, Interval
from harness.metrics.registry import (
    Extracted,
    MetricConfig,
    MetricInputs,
    MetricSpec,
    get_metric,
    metric_config,
)
from harness.metrics.stats_cache import StatsCache, remembered_key
from harness.textnorm import NormalizationSpec, apply_spec_all, normalize_boundary_all

# numpy, sacrebleu's extraction and the resampling are imported inside the functions that
# compute: this module is imported with the package, by every command.
if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

STATS_FORMAT = 1
_META_KEY = "__meta__"
_RAW_PREFIX = "raw."


@dataclass(frozen=True)
class ScoreRecord:
    """One corpus metric, as it goes into results.json["scores"][metric]."""

    metric: str  # registry name: bleu | chrf | chrf++ | ter | ...
    score: float
    signature: str  # the metric's own signature + "|textnorm:<spec tag>"
    sacrebleu_signature: str
    interval: Interval | None = None  # bootstrap, None when resampling is off
    n_resamples: int = 0
    seed: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    raw_score: float | None = None  # boundary-normalized only; set when the spec does more
    raw_signature: str | None = None

    @property
    def spec(self) -> MetricSpec:
        return get_metric(self.metric)

    @property
    def name(self) -> str:
        return self.spec.display_name

    @property
    def higher_is_better(self) -> bool:
        return self.spec.higher_is_better

    @property
    def ci95(self) -> tuple[float, float] | None:
        return None if self.interval is None else (self.interval.low, self.interval.high)

    @property
    def plus_minus(self) -> float | None:
        return None if self.interval is None else self.interval.plus_minus

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "score": self.score,
            "signature": self.signature,
            "sacrebleu_signature": self.sacrebleu_signature,
            "higher_is_better": self.higher_is_better,
            "ci95": None if self.interval is None else [self.interval.low, self.interval.high],
            "plus_minus": self.plus_minus,
            "bootstrap_mean": None if self.interval is None else self.interval.mean,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "details": dict(self.details),
        }
        if self.raw_score is not None:
            out["raw_score"] = self.raw_score
            out["raw_signature"] = self.raw_signature
        return out


@dataclass(frozen=True)
class NormalizationCounts:
    """How many segments each normalization step changed (a segment's references count once)."""

    boundary_hypotheses: int
    boundary_references: int
    spec_hypotheses: int = 0
    spec_references: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Evaluation:
    """Everything :func:`evaluate` computed for one system on one dataset."""

    scores: dict[str, ScoreRecord]
    segment_chrf: list[float]  # sentence chrF per segment, input order, on the scored text
    stats: dict[str, np.ndarray]  # per-segment sufficient statistics of the scored text
    spec: NormalizationSpec
    changed: NormalizationCounts
    raw_stats: dict[str, np.ndarray] = field(default_factory=dict)  # boundary-only text
    # Per-metric extras per segment (xCOMET's "error_spans"), input order.
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)

    def segment_values(self) -> dict[str, list[float]]:
        """Per-segment scores of every metric whose registry entry has them (chrF, TER,
        COMET, ...; not BLEU), on the scored text."""
        out = {}
        for name, array in self.stats.items():
            spec = get_metric(name)
            if spec.segment_scores is not None:
                out[name] = [float(x) for x in spec.segment_scores(array)]
        return out

    def to_json(self) -> dict[str, Any]:
        """The value of results.json["scores"]."""
        return {name: record.to_json() for name, record in self.scores.items()}

    def normalization_json(self) -> dict[str, Any]:
        """What was normalized, for results.json["normalization"]."""
        return {
            "boundary": "nfc+spaces",
            "scoring": self.spec.tag,
            "changed": self.changed.to_json(),
        }

    def save_stats(self, path: Path) -> Path:
        """Write stats.npz atomically: one array per metric (raw ones as ``raw.<metric>``)."""
        from harness.store import write_atomic

        blob = self.stats_npz()
        return write_atomic(Path(path), lambda handle: handle.write(blob))

    def stats_npz(self) -> bytes:
        """The bytes of :meth:`save_stats`'s file."""
        arrays = {**self.stats, **{_RAW_PREFIX + k: v for k, v in self.raw_stats.items()}}
        meta = {
            "format": STATS_FORMAT,
            "spec": self.spec.tag,
            "columns": {k: list(get_metric(k.removeprefix(_RAW_PREFIX)).columns) for k in arrays},
            "signatures": {k: r.signature for k, r in self.scores.items()},
        }
        return _npz_bytes(arrays, meta)


# zlib level 3: 8% larger than numpy's level 6 on a run's statistics, in a quarter of the time
# (measured on 2,000 segments x 4 metrics: 7 ms against 26 ms).
_NPZ_LEVEL = 3
# A fixed entry time (zip's epoch), so the same statistics make the same bytes on every run.
_NPZ_DATE = (1980, 1, 1, 0, 0, 0)


def _npz_bytes(arrays: Mapping[str, np.ndarray], meta: dict) -> bytes:
    """An ``.npz`` as ``np.savez_compressed`` makes it (``np.load`` reads it), deflated at
    :data:`_NPZ_LEVEL` with fixed entry times."""
    import numpy as np

    payload = {_META_KEY: np.array(json.dumps(meta)), **arrays}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in payload.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=_NPZ_DATE)
            archive.writestr(
                info, buffer.getvalue(), zipfile.ZIP_DEFLATED, compresslevel=_NPZ_LEVEL
            )
    return out.getvalue()


def load_stats(path: Path, include_raw: bool = False) -> dict[str, np.ndarray]:
    """Read stats.npz back: metric name -> ``(n_segments, n_columns)`` array, shapes checked."""
    import numpy as np

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz[_META_KEY])) if _META_KEY in npz.files else {}
            arrays = {k: npz[k] for k in npz.files if k != _META_KEY}
    except (
        OSError,
        ValueError,
        zipfile.BadZipFile,
        json.JSONDecodeError,
        io.UnsupportedOperation,
    ) as e:
        raise RunFolderError(f"cannot read statistics {path}: {e}") from e
    if meta.get("format") != STATS_FORMAT:
        raise RunFolderError(
            f"{path}: statistics format {meta.get('format')!r}, this harness reads {STATS_FORMAT}"
        )
    out = {}
    for key, array in arrays.items():
        if key.startswith(_RAW_PREFIX) and not include_raw:
            continue
        try:
            get_metric(key.removeprefix(_RAW_PREFIX)).check_stats(array, where=f"{path}: ")
        except MetricError as e:
            raise RunFolderError(str(e)) from e
        out[key] = array
    return out


def evaluate(
    hyps: Sequence[str],
    refs: Sequence[Sequence[str]],
    metrics: Sequence[str | MetricConfig],
    spec: NormalizationSpec,
    bootstrap_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    sources: Sequence[str] | None = None,
    progress_label: str | None = None,
    *,
    cache_dir: Path | None = None,
    precomputed: Mapping[str, Extracted] | None = None,
    stats_cache: StatsCache | None = None,
) -> Evaluation:
    """Score ``hyps`` against item-major ``refs`` (``refs[i]`` = references of segment ``i``).

    ``metrics`` are registry names or metric configs; ``sources`` go to metrics that read them.
    ``bootstrap_resamples=0`` turns the intervals off. With ``progress_label``, progress lines
    are logged while the statistics are extracted (for batch logs; see harness.progress).
    ``precomputed``: statistics already extracted by :func:`extract_model_metrics` on the same
    text (the runner scores every leaf with one model-based metric before loading the next);
    ``cache_dir``: where model-based metrics keep per-segment scores. Statistics already in
    ``stats_cache`` are read from it, new ones are added to it.
    Raises MetricError on misaligned input.
    """
    from harness.metrics.stats import segment_scores

    configs = [metric_config(m) for m in metrics]
    names = [c.name for c in configs]
    if not names:
        raise MetricError("no metric to compute")
    if bootstrap_resamples < 0:
        raise MetricError(f"bootstrap_resamples must be >= 0, got {bootstrap_resamples}")
    scored_in, raw_in, counts = scoring_inputs(hyps, refs, spec, sources, cache_dir)
    pre = dict(precomputed or {})
    todo = [c for c in configs if c.name not in pre]
    progress = None
    if progress_label is not None:
        from harness.progress import ProgressLog

        passes = len(todo) * (1 if spec.is_identity else 2)
        progress = ProgressLog(progress_label, len(hyps) * passes, unit="segment scores")
    scored = {**pre, **_cached_all(todo, scored_in, spec.tag, stats_cache, progress)}
    # Only when the spec changes text is there a different "raw" number to keep beside it
    # (for the string metrics: a model-based metric is not run twice for it).
    cheap = [c for c in todo if get_metric(c.name).kind == "string"]
    raw = {} if spec.is_identity else _cached_all(cheap, raw_in, "nfc", stats_cache, progress)
    stats = {name: scored[name].stats for name in names}
    signatures = {name: scored[name].signature for name in names}
    boot = _Bootstrap(bootstrap_resamples, seed, stats, signatures, stats_cache)
    records = {
        name: _record(name, scored[name], raw.get(name), spec, boot, stats_cache) for name in names
    }
    chrf_stats = (
        stats["chrf"]
        if "chrf" in stats
        else _cached_all([metric_config("chrf")], scored_in, spec.tag, stats_cache)["chrf"].stats
    )
    raw_stats = {name: e.stats for name, e in raw.items()}
    extras = {name: dict(scored[name].extra) for name in names if scored[name].extra}
    return Evaluation(
        records, segment_scores("chrf", chrf_stats), stats, spec, counts, raw_stats, extras
    )


def scoring_inputs(
    hyps: Sequence[str],
    refs: Sequence[Sequence[str]],
    spec: NormalizationSpec,
    sources: Sequence[str] | None = None,
    cache_dir: Path | None = None,
) -> tuple[MetricInputs, MetricInputs, NormalizationCounts]:
    """The text every metric scores (boundary-normalized, then ``spec``), the boundary-only
    ("raw") text, and what normalization changed."""
    if len(hyps) != len(refs):
        raise MetricError(f"{len(hyps)} hypotheses but {len(refs)} reference entries")
    if sources is not None and len(sources) != len(hyps):
        raise MetricError(f"{len(hyps)} hypotheses but {len(sources)} sources")
    raw_hyps, raw_refs, counts = _normalize(hyps, refs, spec)
    scored_hyps, scored_refs = raw_hyps, raw_refs
    if not spec.is_identity:
        scored_hyps, n_hyp = apply_spec_all(raw_hyps, spec)
        scored_refs, n_ref = _map_refs(raw_refs, lambda texts: apply_spec_all(texts, spec))
        counts = replace(counts, spec_hypotheses=n_hyp, spec_references=n_ref)
    return (
        MetricInputs(scored_hyps, scored_refs, sources, cache_dir),
        MetricInputs(raw_hyps, raw_refs, sources, cache_dir),
        counts,
    )


def loads_a_model(configs: Sequence[MetricConfig]) -> bool:
    """Whether any of ``configs`` is a metric :func:`extract_model_metrics` runs (a cached
    rerun of string metrics then prepares no text for it)."""
    return any(get_metric(c.name).kind == "neural" for c in configs)


def extract_model_metrics(
    configs: Sequence[MetricConfig], leaves: Sequence[MetricInputs]
) -> list[dict[str, Extracted]]:
    """Statistics of the metrics that load a model (registry ``kind="neural"``) for several
    leaves (each as from :func:`scoring_inputs`), for ``evaluate(precomputed=...)``: every leaf
    with one metric, then its model is freed before the next loads, so only one metric model is
    in memory at a time. Other metrics are left to :func:`evaluate`."""
    from harness.metrics.neural_specs import release_models

    out: list[dict[str, Extracted]] = [{} for _ in leaves]
    for config in configs:
        if get_metric(config.name).kind != "neural":
            continue
        try:
            for found, inputs in zip(out, leaves, strict=True):
                found.update(_extract_all([config], inputs, None))
        finally:
            release_models()
    return out


class _Bootstrap:
    """Confidence intervals of every metric, drawn once from the same resamples; with a
    statistics cache, remembered by :func:`bootstrap_key` (a rerun on the same statistics
    draws nothing)."""

    def __init__(
        self,
        n_resamples: int,
        seed: int,
        stats: Mapping[str, np.ndarray],
        signatures: Mapping[str, str],
        cache: StatsCache | None = None,
    ) -> None:
        self.n_resamples, self.seed = n_resamples, seed
        self.intervals: dict[str, Interval] = {}
        if not n_resamples:
            return
        key = bootstrap_key(stats, signatures, n_resamples, seed) if cache is not None else b""
        stored = cache.recall(key) if cache is not None else None
        if isinstance(stored, dict) and set(stored) == set(stats):
            self.intervals = {name: Interval(*stored[name]) for name in stats}
            return
        from harness.metrics.significance import bootstrap_scores, estimate_ci

        scores = bootstrap_scores(stats, n_resamples, seed)
        self.intervals = {name: estimate_ci(s) for name, s in scores.items()}
        if cache is not None:
            cache.remember(key, {n: [i.mean, i.low, i.high] for n, i in self.intervals.items()})

    def interval(self, name: str) -> Interval | None:
        return self.intervals.get(name)


def bootstrap_key(
    stats: Mapping[str, np.ndarray], signatures: Mapping[str, str], n_resamples: int, seed: int
) -> bytes:
    """What decides a set of bootstrap intervals: every metric's statistics (bytes, dtype and
    shape, in order: the metrics share the resamples), its signature, the resamples and seed,
    and the code that draws and scores them (numpy's generator, the harness)."""
    import numpy as np

    parts, blobs = _stats_parts(stats, signatures)
    settings = {"resamples": n_resamples, "seed": seed, "numpy": np.__version__}
    return remembered_key("bootstrap", [harness.__version__, settings, parts], blobs)


def corpus_score_key(name: str, stats: np.ndarray, signature: str) -> bytes:
    """What decides a corpus score: the metric, its signature and its statistics."""
    parts, blobs = _stats_parts({name: stats}, {name: signature})
    return remembered_key("corpus_score", [harness.__version__, parts], blobs)


def _stats_parts(
    stats: Mapping[str, np.ndarray], signatures: Mapping[str, str]
) -> tuple[list[Any], list[bytes]]:
    import numpy as np

    parts, blobs = [], []
    for name, array in stats.items():
        array = np.ascontiguousarray(array)
        parts.append([name, signatures[name], array.dtype.str, list(array.shape)])
        blobs.append(array.tobytes())
    return parts, blobs


def _corpus_score(
    name: str, stats: np.ndarray, signature: str, cache: StatsCache | None
) -> tuple[float, dict[str, Any]]:
    """The metric's corpus score and details; with a cache, remembered by
    :func:`corpus_score_key` (for the sacrebleu metrics: no sacrebleu import on a rerun).
    Fresh values take the same JSON round trip as remembered ones, so both are alike."""
    key = corpus_score_key(name, stats, signature) if cache is not None else b""
    stored = cache.recall(key) if cache is not None else None
    if isinstance(stored, dict):
        return float(stored["score"]), dict(stored["details"])
    score = get_metric(name).corpus_score(stats)
    value = json.loads(json.dumps({"score": score.score, "details": dict(score.details)}))
    if cache is not None:
        cache.remember(key, value)
    return float(value["score"]), dict(value["details"])


def _normalize(
    hyps: Sequence[str], refs: Sequence[Sequence[str]], spec: NormalizationSpec
) -> tuple[list[str], list[list[str]], NormalizationCounts]:
    for i, text in enumerate(hyps):
        if not isinstance(text, str):
            raise MetricError(f"hypothesis {i} is {type(text).__name__}, not a string")
    norm_hyps, n_hyp = normalize_boundary_all(hyps)
    norm_refs, n_ref = _map_refs(refs, normalize_boundary_all)
    return norm_hyps, norm_refs, NormalizationCounts(n_hyp, n_ref)


def _map_refs(refs: Sequence[Sequence[str]], fn: Any) -> tuple[list[list[str]], int]:
    """Apply a ``texts -> (texts, n_changed)`` function to each segment's references; count
    segments with at least one changed reference."""
    out, changed = [], 0
    for i, seg_refs in enumerate(refs):
        if isinstance(seg_refs, str) or not all(isinstance(r, str) for r in seg_refs):
            raise MetricError(f"references of segment {i} must be a list of strings")
        texts, n = fn(seg_refs)
        out.append(texts)
        changed += n > 0
    return out, changed


_PROGRESS_CHUNK = 500  # segments per statistics call when progress is logged


def _extract_all(
    configs: Sequence[MetricConfig], inputs: MetricInputs, progress: Any = None
) -> dict[str, Extracted]:
    """metric -> its per-segment statistics and signature (and extras such as error spans).

    With ``progress`` (a ProgressLog), segments go in chunks: the statistics are per segment,
    so the concatenated chunks equal one call over everything (tested).
    """
    out = {}
    n = len(inputs.hypotheses)
    # Empty input goes to the metric once, which says what is wrong with it.
    step = _PROGRESS_CHUNK if progress is not None and n else max(n, 1)
    for config in configs:
        spec = get_metric(config.name)
        parts = []
        for start in range(0, max(n, 1), step):
            parts.append(spec.extract(config, _slice(inputs, start, start + step)))
            if progress is not None:
                progress.update(len(parts[-1].stats))
        if len(parts) == 1:
            out[config.name] = parts[0]
            continue
        extra: dict[str, Any] = {}
        for key in parts[0].extra:
            extra[key] = [item for part in parts for item in part.extra[key]]
        import numpy as np

        stats = np.concatenate([p.stats for p in parts])
        out[config.name] = Extracted(stats, parts[-1].signature, extra)
    return out


def _cached_all(
    configs: Sequence[MetricConfig],
    inputs: MetricInputs,
    text_tag: str,
    stats_cache: StatsCache | None,
    progress: Any = None,
) -> dict[str, Extracted]:
    """Statistics of ``configs``: the string metrics through the statistics cache and every
    core (:mod:`harness.metrics.extraction`), the others (model-based) as they come."""
    cheap = [c for c in configs if get_metric(c.name).kind == "string"]
    out: dict[str, Extracted] = {}
    if cheap and inputs.hypotheses:
        from harness.metrics.extraction import Request, extract_all  # and its worker pool

        done = extract_all([Request(c, inputs, text_tag) for c in cheap], stats_cache)
        out.update(zip((c.name for c in cheap), done, strict=True))
        if progress is not None:
            progress.update(len(inputs.hypotheses) * len(cheap))
    rest = [c for c in configs if c.name not in out]
    out.update(_extract_all(rest, inputs, progress))
    return {c.name: out[c.name] for c in configs}


def _slice(inputs: MetricInputs, start: int, end: int) -> MetricInputs:
    if start == 0 and end >= len(inputs.hypotheses):
        return inputs
    return MetricInputs(
        inputs.hypotheses[start:end],
        None if inputs.references is None else inputs.references[start:end],
        None if inputs.sources is None else inputs.sources[start:end],
        inputs.cache_dir,
    )


def _record(
    name: str,
    scored: Extracted,
    raw: Extracted | None,
    spec: NormalizationSpec,
    boot: _Bootstrap,
    cache: StatsCache | None = None,
) -> ScoreRecord:
    stats, metric_sig = scored.stats, scored.signature
    score, details = _corpus_score(name, stats, metric_sig, cache)
    interval = boot.interval(name)
    return ScoreRecord(
        metric=name,
        score=score,
        signature=signature_with_norm(metric_sig, spec.tag),
        sacrebleu_signature=metric_sig,
        interval=interval,
        n_resamples=boot.n_resamples if interval else 0,
        seed=boot.seed if interval else None,
        details=details,
        raw_score=None if raw is None else _corpus_score(name, raw.stats, raw.signature, cache)[0],
        raw_signature=None if raw is None else signature_with_norm(raw.signature, "nfc"),
    )


def signature_with_norm(signature: str, tag: str) -> str:
    """The metric's signature plus the harness's own normalization, under a key of its own
    (``textnorm``; sacrebleu's TER signature already has ``norm``), so that every signature
    stays a list of distinct ``key:value`` pairs."""
    return f"{signature}|textnorm:{tag}"
