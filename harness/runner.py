"""load -> translate (batched, cached, resumable) -> score -> write, for every model × dataset."""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness import store
from harness.cache import TranslationCache
from harness.config import ResolvedConfig, dataset_label, model_label, resolve_model_path, slug
from harness.distributed import (
    Rank,
    current_rank,
    device_for,
    init_process_group,
    translate_shards,
)
from harness.errors import ConfigError, TranslatorError
from harness.metrics.stats_cache import StatsCache
from harness.provenance import environment
from harness.report.run_reports import attach_significance, write_run_report
from harness.segments import LoadedDataset
from harness.textnorm import normalize_boundary_all
from harness.translators.identity import IdentityContext, TranslatorIdentity, no_memo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    use_cache: bool = True
    progress: bool = True  # live progress bars on stderr (off when it is not a terminal)


@dataclass(frozen=True)
class LeafResult:
    """One finished (model, dataset) evaluation and where it was written."""

    model: str
    dataset: str
    path: Path
    scores: dict[str, float]


@dataclass
class Translation:
    """Hypotheses for one dataset, and how much of it came from the cache."""

    hypotheses: list[str]
    cached: int
    translated: int
    seconds: float


@dataclass
class _ModelSession:
    """Builds the translator only when some segment is not cached yet, and only once."""

    config: Any  # the model config, with a local `model:` path made absolute
    label: str  # the model's name in folders and tables
    config_key: str  # e.g. "models[1]", for error messages
    resolved: ResolvedConfig
    options: RunOptions
    cache: TranslationCache | None
    identity: TranslatorIdentity  # what determines the output; its hash keys the cache
    context: IdentityContext
    test_sources: tuple[str, ...]  # every source of the run: few-shot examples must avoid them
    _translator: Any = None
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.identity.key

    def translator(self) -> Any:
        if self._translator is None:
            from harness.translators import build_translator  # torch/transformers load here

            log.info("loading model %s", self.label)
            start = time.perf_counter()
            self._translator = build_translator(
                self.config,
                cache_dir=self.resolved.cache_dir,
                base_dir=self.resolved.base_dir,
                config_key=self.config_key,
                progress=self.options.progress,
                test_sources=self.test_sources,
            )
            self.provenance = dict(self._translator.provenance())
            self.provenance["load_seconds"] = round(time.perf_counter() - start, 3)
            # Some pins are known only once the model has loaded (a hub model downloaded just
            # now): state the identity again, and key the translations by what really ran.
            from harness.translators import translator_identity

            self.identity = translator_identity(self.config, self.context)
            if self.cache is not None:
                self.cache.put_identity(self.key, self.identity.to_json(), self.label)
                self.cache.put_provenance(self.key, self.provenance)
        return self._translator

    def leaf_provenance(self, translated: bool) -> dict[str, Any]:
        """Provenance for one dataset: with this dataset's throughput when the model ran on it,
        else as remembered (from this run or the cache) with no throughput."""
        if translated and self._translator is not None:
            return {**self.provenance, **self._translator.provenance()}
        known = self.provenance
        if not known and self.cache is not None:
            cached = self.cache.get_provenance(self.key)
            known = {**cached, "from_cache": True} if cached else {}
        return {**known, "throughput": None} if known else {}

    def close(self) -> None:
        self._translator = None  # let the model be garbage-collected before the next one


def run_evaluation(
    resolved: ResolvedConfig, options: RunOptions = RunOptions()
) -> list[LeafResult]:
    """Evaluate every model on every dataset of the config; returns the leaves written."""
    from harness.data import load_dataset

    config = resolved.config
    run_dir = resolved.run_dir
    rank = current_rank()
    if rank is not None:
        if not options.use_cache:
            raise ConfigError(
                "a run in several processes gathers translations through the cache; "
                "drop --no-cache (or give the run a fresh cache_dir)"
            )
        init_process_group()
    # Load (and validate) every dataset before any model: bad data fails in seconds, not after
    # an hour of translation.
    datasets = [load_dataset(cfg, resolved.base_dir) for cfg in config.datasets]
    for label, data in zip((dataset_label(c) for c in config.datasets), datasets, strict=True):
        _log_load_report(label, data)
    cache = (
        TranslationCache(resolved.cache_dir / "translations.sqlite") if options.use_cache else None
    )
    # Per-segment metric statistics, cached like translations (--no-cache: neither).
    stats_cache = StatsCache.in_dir(resolved.cache_dir) if options.use_cache else None
    leaves: list[LeafResult] = []
    test_sources = tuple(dict.fromkeys(s.source for d in datasets for s in d.segments))
    try:
        sessions = [
            _session(resolved, options, cache, index, test_sources, rank)
            for index in range(len(config.models))
        ]
        _check_models(sessions, test_sources)
        shards: dict[tuple[str, str], dict[str, Any]] = {}
        if rank is not None:
            labels = [dataset_label(c) for c in config.datasets]
            shards = translate_shards(sessions, datasets, labels, rank)
            if not rank.is_main:
                return []  # process 0 scores and writes; the cache holds this one's work
        run_dir.mkdir(parents=True, exist_ok=True)
        store.write_text_atomic(
            run_dir / "config.yaml",
            yaml.safe_dump(resolved.data, allow_unicode=True, sort_keys=False),
        )
        for session in sessions:
            for data_cfg, data in zip(config.datasets, datasets, strict=True):
                name = dataset_label(data_cfg)
                shard_info = shards.get((session.label, name))
                leaves.append(
                    _evaluate_leaf(resolved, session, name, data, shard_info, stats_cache)
                )
            session.close()
    finally:
        if cache is not None:
            cache.close()
        if stats_cache is not None:
            stats_cache.close()
    if config.statistics.baseline is not None and len(config.models) > 1:
        attach_significance(run_dir, config, [leaf.path for leaf in leaves])
    store.write_json_atomic(run_dir / store.SUMMARY_FILE, _summary(config.name, run_dir, leaves))
    write_run_report(run_dir, config.name)
    return leaves


def _session(
    resolved: ResolvedConfig,
    options: RunOptions,
    cache: TranslationCache | None,
    index: int,
    test_sources: tuple[str, ...],
    rank: Rank | None = None,
) -> _ModelSession:
    model_cfg = resolved.config.models[index]
    update = {"model": resolve_model_path(model_cfg.model, resolved.base_dir)}
    if rank is not None:
        update["device"] = device_for(model_cfg.device, rank)  # one GPU per process
    local = model_cfg.model_copy(update=update)
    few_shot = _few_shot_stamp(local, resolved.base_dir, f"models[{index}]", test_sources)
    from harness.translators import translator_identity

    context = IdentityContext(
        base_dir=resolved.base_dir,
        config_key=f"models[{index}]",
        few_shot=few_shot,
        memo=cache.memo if cache is not None else no_memo,
        cache_dir=resolved.cache_dir,
    )
    return _ModelSession(
        config=local,
        label=model_label(model_cfg),
        config_key=f"models[{index}]",
        resolved=resolved,
        options=options,
        cache=cache,
        identity=translator_identity(local, context),
        context=context,
        test_sources=test_sources,
    )


def _check_models(sessions: Sequence[_ModelSession], sources: Sequence[str]) -> None:
    """Check, before any model runs, that every model still needed can be loaded here; a
    model whose translations are all cached is not needed at all."""
    from harness.translators import check_available

    for session in sessions:
        cached = session.cache.get_many(session.key, sources) if session.cache else {}
        if len(cached) < len(set(sources)):
            check_available(
                session.config, base_dir=session.resolved.base_dir, config_key=session.config_key
            )


def _few_shot_stamp(
    model_cfg: Any, base_dir: Path, config_key: str, test_sources: Sequence[str]
) -> str | None:
    """Load a model's few-shot examples now, refuse any that is also a test source (even when
    every translation is cached), and return their fingerprint for the cache key: edited
    examples mean new prompts, hence new translations."""
    few_shot = getattr(getattr(model_cfg, "prompt", None), "few_shot", None)
    if few_shot is None:
        return None
    from harness.translators.fewshot import check_no_overlap, load_few_shot

    examples, info = load_few_shot(few_shot, base_dir=base_dir, where=config_key)
    check_no_overlap(examples, test_sources, config_key)
    return str(info["fingerprint"])


def _log_load_report(label: str, data: LoadedDataset) -> None:
    report = data.report
    log.info(
        "dataset %s: %d segments from %d records", label, len(data.segments), report.records_in
    )


def translate_segments(
    sources: Sequence[str], session: _ModelSession, cache: TranslationCache | None
) -> Translation:
    """Hypotheses for ``sources`` in order: cached ones looked up, the rest translated.

    Each finished batch goes to the cache at once, so an interrupted run resumes where it stopped.
    """
    hypotheses: list[str | None] = [None] * len(sources)
    if cache is not None:
        found = cache.get_many(session.key, sources)
        hypotheses = [found.get(s) for s in sources]
    todo = [i for i, h in enumerate(hypotheses) if h is None]
    seconds = 0.0
    if todo:
        translator = session.translator()
        todo_sources = [sources[i] for i in todo]

        def on_batch(positions: Sequence[int], outputs: Sequence[str]) -> None:
            if cache is not None:
                cache.put_many(
                    session.key,
                    [(todo_sources[p], h) for p, h in zip(positions, outputs, strict=True)],
                )

        start = time.perf_counter()
        outputs = translator.translate(todo_sources, on_batch=on_batch)
        seconds = time.perf_counter() - start
        if len(outputs) != len(todo_sources):
            raise TranslatorError(
                f"{session.label} returned {len(outputs)} translations "
                f"for {len(todo_sources)} sources"
            )
        for i, hyp in zip(todo, outputs, strict=True):
            hypotheses[i] = hyp
    done = [h for h in hypotheses if h is not None]
    assert len(done) == len(sources)  # every slot was filled above; internal invariant
    return Translation(done, len(sources) - len(todo), len(todo), seconds)


def _evaluate_leaf(
    resolved: ResolvedConfig,
    session: _ModelSession,
    data_name: str,
    data: LoadedDataset,
    shards: dict[str, Any] | None = None,
    stats_cache: StatsCache | None = None,
) -> LeafResult:
    from harness.metrics import evaluate

    config = resolved.config
    model_name = session.label
    leaf_dir = resolved.run_dir / slug(model_name) / slug(data_name)
    log.info("translating %s with %s (%d segments)", data_name, model_name, len(data.segments))
    sources = [s.source for s in data.segments]
    started = time.perf_counter()
    translation = translate_segments(sources, session, session.cache)
    references = [list(s.references) for s in data.segments]
    scoring_started = time.perf_counter()
    evaluation = evaluate(
        translation.hypotheses,  # raw model output: evaluate() counts what normalization changes
        references,
        metrics=config.metrics,
        spec=config.normalize.spec(),
        bootstrap_resamples=config.statistics.bootstrap_resamples,
        seed=config.statistics.seed,
        stats_cache=stats_cache,
    )
    scoring_seconds = time.perf_counter() - scoring_started
    # The files hold the text that was scored (NFC, plain spaces), not the raw bytes.
    hypotheses, _ = normalize_boundary_all(translation.hypotheses)
    _write_leaf(leaf_dir, data, hypotheses, evaluation.segment_chrf)
    evaluation.save_stats(leaf_dir / "stats.npz")
    results = {
        "schema_version": store.SCHEMA_VERSION,
        "run": config.name,
        "model": {
            # Name and config last: provenance remembered from the cache may come from a run
            # that called the same model something else.
            **session.leaf_provenance(translation.translated > 0),
            "name": model_name,
            "config": session.config.model_dump(mode="json"),
            "identity": session.identity.to_json(),
            "identity_key": session.key,
        },
        "dataset": {
            "name": data_name,
            "fingerprint": data.fingerprint,
            "segments": len(data.segments),
            "load_report": data.report.to_json(),
            "provenance": dict(data.provenance),
        },
        "normalization": evaluation.normalization_json(),
        "scores": evaluation.to_json(),
        "timing": {
            **_timing(translation, shards),
            "scoring_seconds": round(scoring_seconds, 3),
            "wall_seconds": round(time.perf_counter() - started, 3),
        },
        "environment": environment(),
    }
    store.write_json_atomic(leaf_dir / store.RESULTS_FILE, results)
    headline = {name: record.score for name, record in evaluation.scores.items()}
    log.info(
        "%s on %s: %s",
        model_name,
        data_name,
        ", ".join(f"{k} {v:.2f}" for k, v in headline.items()),
    )
    return LeafResult(model_name, data_name, leaf_dir, headline)


def _write_leaf(
    leaf_dir: Path, data: LoadedDataset, hypotheses: Sequence[str], chrf: Sequence[float]
) -> None:
    store.write_lines_atomic(leaf_dir / "hypotheses.txt", hypotheses)
    rows = (
        {**seg.to_json(), "hypothesis": hyp, "chrf": round(score, 4)}
        for seg, hyp, score in zip(data.segments, hypotheses, chrf, strict=True)
    )
    store.write_jsonl_atomic(leaf_dir / "segments.jsonl", rows)


def _timing(translation: Translation, shards: dict[str, Any] | None) -> dict[str, Any]:
    """Translation counts and speed; in a multi-process run, what every process did (their
    work reached this process through the cache, so it is not counted as cached). The
    processes translate all datasets of a model together: their seconds are the model's."""
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mib = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    translated, cached, seconds = translation.translated, translation.cached, translation.seconds
    produced = translated  # what `seconds` of translation produced
    if shards:
        # Segments uncached before the processes started; rank 0 may still have translated a
        # few itself just now (translation.translated), which were among them.
        translated = max(shards["uncached_segments"], translated)
        cached = translation.cached + translation.translated - translated
        ranks = shards["ranks"]
        seconds = max([seconds, *(r["seconds"] for r in ranks)])  # the processes ran at once
        produced = sum(r["translated"] for r in ranks) + translation.translated
    timing: dict[str, Any] = {
        "translated_segments": translated,
        "cached_segments": cached,
        "translate_seconds": round(seconds, 3),
        "segments_per_second": round(produced / seconds, 3) if seconds else None,
        "peak_rss_mib": round(peak_mib, 1),  # this process only
    }
    if shards:
        timing["processes"] = {
            "world_size": len(shards["ranks"]),
            "ranks": shards["ranks"],  # each process's work on this model, all its datasets
        }
    return timing


def _summary(run_name: str, run_dir: Path, leaves: Sequence[LeafResult]) -> dict[str, Any]:
    """The leaves this run wrote, in config order; readers use it to ignore folders left
    behind by an earlier run of the same name."""
    return {
        "schema_version": store.SCHEMA_VERSION,
        "run": run_name,
        "results": [
            {
                "model": leaf.model,
                "dataset": leaf.dataset,
                "path": leaf.path.relative_to(run_dir).as_posix(),
                "scores": leaf.scores,
            }
            for leaf in leaves
        ],
    }
