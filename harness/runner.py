"""load -> translate (batched, cached, resumable) -> score -> write, for every model × dataset."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness import store
from harness.cache import TranslationCache, TranslationStore
from harness.config import ResolvedConfig, dataset_label, model_label, resolve_model_path
from harness.config_dump import validated_config_data
from harness.distributed import Rank, current_rank, device_for
from harness.errors import CacheError, TranslatorError
from harness.leaf_results import LeafResult, evaluate_leaf
from harness.metrics.stats_cache import StatsCache
from harness.preflight import check_run
from harness.progress import ProgressLog
from harness.report.run_reports import attach_significance, write_run_report
from harness.segments import LoadedDataset
from harness.shards import import_shards
from harness.translators.backends import backend_of
from harness.translators.base import SegmentError
from harness.translators.identity import IdentityContext, TranslatorIdentity, no_memo
from harness.validity.checks import FlagMemo
from harness.validity.leaf import CheckedOutputs, check_outputs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    use_cache: bool = True
    progress: bool = True  # live progress bars on stderr (off when it is not a terminal)


@dataclass
class Translation:
    """Hypotheses for one dataset, and how much of it came from the cache."""

    hypotheses: list[str]
    cached: int
    translated: int
    seconds: float
    # The translator's own per-segment reports ("truncated", "source_truncated", "refusal"),
    # remembered by the cache beside the hypothesis.
    flags: list[tuple[str, ...]] = field(default_factory=list)


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
        close = getattr(self._translator, "close", None)
        if close is not None:  # e.g. an API client's connections
            close()
        self._translator = None  # let the model be garbage-collected before the next one


def run_evaluation(
    resolved: ResolvedConfig, options: RunOptions = RunOptions()
) -> list[LeafResult]:
    """Evaluate every model on every dataset of the config; returns the leaves written (none
    on the processes other than 0 of a torchrun launch: process 0 writes the run folder)."""
    rank = current_rank()
    # Seconds, not minutes: an unwritable run folder, a missing local model, no GPU at all.
    check_run(resolved, writes=rank is None or rank.is_main)
    if rank is not None:
        from harness.distributed_run import run_distributed

        return run_distributed(resolved, options, rank)
    # Load (and validate) every dataset before any model: bad data fails in seconds, not after
    # an hour of translation.
    datasets = load_datasets(resolved, options)
    cache = open_cache(resolved, options)
    try:
        sessions = open_sessions(resolved, options, cache, datasets)
        _check_models(sessions, sessions[0].test_sources)
        return write_run(resolved, sessions, datasets)
    finally:
        if cache is not None:
            cache.close()


def load_datasets(
    resolved: ResolvedConfig, options: RunOptions = RunOptions()
) -> list[LoadedDataset]:
    from harness.data import load_dataset
    from harness.data.memo import FOLDER

    config = resolved.config
    # Datasets read from files are remembered beside the translations (--no-cache: not).
    memo_dir = resolved.cache_dir / FOLDER if options.use_cache else None
    datasets = [
        load_dataset(cfg, resolved.base_dir, f"datasets[{i}]", memo_dir)
        for i, cfg in enumerate(config.datasets)
    ]
    for label, data in zip((dataset_label(c) for c in config.datasets), datasets, strict=True):
        _log_load_report(label, data)
    return datasets


def open_cache(resolved: ResolvedConfig, options: RunOptions) -> TranslationCache | None:
    """The run's translation cache, with what a broken multi-process run left in shard files
    moved into it (see harness.shards); None with --no-cache."""
    if not options.use_cache:
        return None
    cache = TranslationCache(resolved.cache_dir / "translations.sqlite")
    import_shards(cache, resolved.cache_dir)
    return cache


def open_sessions(
    resolved: ResolvedConfig,
    options: RunOptions,
    cache: TranslationCache | None,
    datasets: Sequence[LoadedDataset],
    rank: Rank | None = None,
) -> list[_ModelSession]:
    test_sources = tuple(dict.fromkeys(s.source for d in datasets for s in d.segments))
    return [
        _session(resolved, options, cache, index, test_sources, rank)
        for index in range(len(resolved.config.models))
    ]


def write_run(
    resolved: ResolvedConfig,
    sessions: Sequence[_ModelSession],
    datasets: Sequence[LoadedDataset],
    shards: dict[tuple[str, str], dict[str, Any]] | None = None,
) -> list[LeafResult]:
    """Translate what is not cached yet, score, and write the run folder. ``shards``: what
    the processes of a multi-process run did, per (model, dataset), for the timing."""
    config, run_dir = resolved.config, resolved.run_dir
    with store.writing("config.yaml", run_dir):
        run_dir.mkdir(parents=True, exist_ok=True)
        as_run = validated_config_data(resolved)
        text = yaml.safe_dump(as_run, allow_unicode=True, sort_keys=False)
        store.write_text_atomic(run_dir / "config.yaml", text)
    # Per-segment metric statistics and validity flags, cached like translations (--no-cache:
    # neither).
    use_cache = any(session.cache is not None for session in sessions)
    stats_cache = StatsCache.in_dir(resolved.cache_dir) if use_cache else None
    try:
        # Every translation first, each model freed before the next loads; then the metrics,
        # so a metric that loads a model never shares memory with a translation model.
        pending: list[_TranslatedLeaf] = []
        for session in sessions:
            for data_cfg, data in zip(config.datasets, datasets, strict=True):
                label = dataset_label(data_cfg)
                pending.append(_translate_leaf(session, label, data, stats_cache))
            session.close()
        metrics = [m.with_base_dir(resolved.base_dir) for m in config.metrics]
        precomputed = _model_metrics(resolved, pending, metrics, use_cache)
        leaves = [
            evaluate_leaf(
                resolved,
                leaf,
                metrics,
                pre,
                (shards or {}).get((leaf.model, leaf.name)),
                stats_cache,
            )
            for leaf, pre in zip(pending, precomputed, strict=True)
        ]
    finally:
        if stats_cache is not None:
            stats_cache.close()
    with store.writing("the run summary and report", run_dir):
        if config.statistics.baseline is not None and len(config.models) > 1:
            cache_dir = resolved.cache_dir if use_cache else None
            attach_significance(run_dir, config, [leaf.path for leaf in leaves], cache_dir)
        summary = _summary(config.name, run_dir, leaves)
        store.write_json_atomic(run_dir / store.SUMMARY_FILE, summary)
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
    update = {}
    if backend_of(model_cfg).model_is_path:  # an API model's name is the server's, not a path
        update["model"] = resolve_model_path(model_cfg.model, resolved.base_dir)
    if rank is not None and hasattr(model_cfg, "device"):
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
            _check_cache_writable(session.cache)
            check_available(
                session.config, base_dir=session.resolved.base_dir, config_key=session.config_key
            )


def _check_cache_writable(cache: TranslationCache | None) -> None:
    """A read-only cache with work to translate stops the run here, before any model runs:
    going on without it would make an interruption lose everything translated, and a run in
    several processes gathers its results through it. A fully cached rerun only reads."""
    if cache is not None and not cache.writable():
        raise CacheError(
            f"the translation cache {cache.path} is read-only, and there is work to translate\n"
            "make it writable, set cache_dir (or $HARNESS_CACHE_DIR) to a writable folder, "
            "or pass --no-cache"
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
    sources: Sequence[str],
    session: _ModelSession,
    cache: TranslationStore | None,
    label: str | None = None,
) -> Translation:
    """Hypotheses for ``sources`` in order: cached ones looked up, the rest translated.

    Each finished batch goes to the cache at once, so an interrupted run resumes where it stopped.
    """
    hypotheses: list[str | None] = [None] * len(sources)
    flags: list[tuple[str, ...]] = [()] * len(sources)
    if cache is not None:
        found = cache.get_many(session.key, sources)
        hypotheses = [found.get(s) for s in sources]
        known = cache.get_flags(session.key, sources)
        flags = [known.get(s, ()) for s in sources]
    todo = [i for i, h in enumerate(hypotheses) if h is None]
    if label is not None:
        log.info(
            "translating %s (%d segments: %d from the cache, %d to translate)",
            label, len(sources), len(sources) - len(todo), len(todo),
        )  # fmt: skip
    seconds = 0.0
    if todo:
        translator = session.translator()
        todo_sources = [sources[i] for i in todo]
        # Log lines where no live bar shows (stderr not a terminal): batch jobs see progress.
        progress = ProgressLog(
            f"translating {label or session.label}",
            len(sources),
            cached=len(sources) - len(todo),
            enabled=not session.options.progress,
        )

        def on_batch(positions: Sequence[int], outputs: Sequence[str]) -> None:
            progress.update(len(positions))
            if cache is not None:
                done = [todo_sources[p] for p in positions]
                cache.put_many(
                    session.key,
                    list(zip(done, outputs, strict=True)),
                    flags=dict(zip(done, _translator_flags(translator, positions), strict=True)),
                )

        start = time.perf_counter()
        try:
            outputs = translator.translate(todo_sources, on_batch=on_batch)
        except SegmentError as e:  # name the input by its place in `sources`
            raise e.moved(todo[e.position]) from e
        seconds = time.perf_counter() - start
        if cache is not None:  # what the translator learnt while running (a server's model id)
            cache.put_provenance(
                session.key, {**session.provenance, **translator.provenance(), "throughput": None}
            )
        if len(outputs) != len(todo_sources):
            raise TranslatorError(
                f"{session.label} returned {len(outputs)} translations "
                f"for {len(todo_sources)} sources"
            )
        new_flags = _translator_flags(translator, range(len(todo)))
        for i, hyp, hyp_flags in zip(todo, outputs, new_flags, strict=True):
            hypotheses[i] = hyp
            flags[i] = hyp_flags
    done = [h for h in hypotheses if h is not None]
    assert len(done) == len(sources)  # every slot was filled above; internal invariant
    return Translation(done, len(sources) - len(todo), len(todo), seconds, flags)


def _translator_flags(translator: Any, positions: Sequence[int]) -> list[tuple[str, ...]]:
    """Flags the translator reported for these positions of its current or last ``translate``
    call (its ``last_flags``: per position a flag, a sequence of flags, or None; filled before
    ``on_batch`` hears of a position); none for a translator that does not report them."""
    known = getattr(translator, "last_flags", None) or []
    out = []
    for p in positions:
        item = known[p] if p < len(known) else None
        out.append(() if not item else (item,) if isinstance(item, str) else tuple(item))
    return out


@dataclass
class _TranslatedLeaf:
    """One (model, dataset) translated and checked, waiting for its metrics."""

    session: _ModelSession
    name: str  # the dataset's label
    data: LoadedDataset
    translation: Translation
    checked: CheckedOutputs
    provenance: dict[str, Any]  # the model's, with this dataset's throughput
    started: float

    @property
    def model(self) -> str:
        return self.session.label

    @property
    def references(self) -> list[list[str]]:
        return [list(s.references) for s in self.data.segments]


def _translate_leaf(
    session: _ModelSession,
    data_name: str,
    data: LoadedDataset,
    flag_memo: FlagMemo | None = None,
) -> _TranslatedLeaf:
    sources = [s.source for s in data.segments]
    started = time.perf_counter()
    label = f"{data_name} with {session.label}"
    try:
        translation = translate_segments(sources, session, session.cache, label)
    except SegmentError as e:
        segment = data.segments[e.position]
        raise e.named(f"segment {segment.id!r} (#{e.position} of {data_name})") from e
    postprocess = getattr(session.config, "postprocess", None)
    checked = check_outputs(
        data.segments, translation.hypotheses, translation.flags, postprocess, flag_memo
    )
    provenance = session.leaf_provenance(translation.translated > 0)
    return _TranslatedLeaf(session, data_name, data, translation, checked, provenance, started)


def _model_metrics(
    resolved: ResolvedConfig,
    pending: Sequence[_TranslatedLeaf],
    metrics: Sequence[Any],
    use_cache: bool = True,
) -> list[dict[str, Any]]:
    """Statistics of the metrics that load a model, every leaf with one metric at a time
    (their segment scores cached in the cache folder unless --no-cache)."""
    from harness.metrics.evaluate import extract_model_metrics, loads_a_model, scoring_inputs

    if not loads_a_model(metrics):
        return [{} for _ in pending]
    spec = resolved.config.normalize.spec()
    inputs = [
        scoring_inputs(
            leaf.checked.hypotheses,
            leaf.references,
            spec,
            [s.source for s in leaf.data.segments],
            resolved.cache_dir if use_cache else None,
        )[0]
        for leaf in pending
    ]
    return extract_model_metrics(metrics, inputs)


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
