"""A run in several processes (torchrun, one or many nodes), with no shared filesystem.

Only process 0 owns a translation cache and the run folder; each node may have its own
``cache_dir``. The steps, the same on every process (each collective over gloo):

1. Every process loads the datasets and makes its model sessions; process 0 also opens its
   cache (taking in shard files an earlier broken run left there). All report to all:
   host, an id of their cache dir (:func:`harness.shards.cache_identity`), the datasets'
   fingerprints, or the error that stopped them. Any error stops every process here.
2. Process 0 sends the positions of the sources its cache lacks, per model.
3. In each group of processes that share a cache dir other than process 0's, the lowest
   rank looks those up in its node's SQLite cache (read only) and in shard files left there.
   All tell all which positions they found, so every process computes the same remainder,
   sorts it by length and deals it round-robin: its share.
4. Each process translates its share. Process 0 writes its batches to its cache; the others
   keep theirs in memory and append them to their own shard file (:class:`ShardWriter`),
   so a process that dies leaves its finished batches on its own node's disk. A failure is
   caught and kept, not raised: the process still takes part in the gather.
5. All tell all what they did (and their error, if any); then every process's translations
   and node-cache hits go to process 0 in pieces of a few MB (``gather_object``), each piece
   written to process 0's cache as it arrives.
6. Process 0 says it has them all; the others delete their shard files. If some process
   failed, process 0 raises its error (two lines, naming the process and host); what was
   gathered stays cached, and a rerun (in any number of processes) resumes from it. Otherwise
   process 0 scores and writes the run folder as a single process would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from harness.cache import TranslationCache
from harness.config import ResolvedConfig, dataset_label
from harness.distributed import (
    Rank,
    all_gather,
    broadcast,
    chunks,
    collective,
    deal_by_length,
    gather_chunked,
    init_process_group,
    leave_process_group,
)
from harness.errors import ConfigError, HarnessError
from harness.runner import (
    LeafResult,
    RunOptions,
    _check_models,
    _ModelSession,
    load_datasets,
    open_cache,
    open_sessions,
    translate_segments,
    write_run,
)
from harness.segments import LoadedDataset
from harness.shards import ShardWriter, cache_identity, lookup, read_shards, shard_keys

log = logging.getLogger(__name__)


class _Stop(Exception):
    """A process other than 0 ends here: process 0 reports the run's outcome."""


@dataclass
class _Hello:
    """Step 1: what a process tells every other one once it is set up."""

    host: str
    cache_id: str | None
    fingerprints: list[str]
    error: str | None


@dataclass
class _Report:
    """Step 5: what a process did, per model (index): its timing record and provenance."""

    rank: int
    host: str
    pieces: int
    error: str | None
    work: dict[int, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass
class _Model:
    """One model's work: the unique sources of all datasets, in first-seen order (the same
    list on every process: step 1 checks the datasets' fingerprints)."""

    session: _ModelSession
    sources: list[str]


def run_distributed(resolved: ResolvedConfig, options: RunOptions, rank: Rank) -> list[LeafResult]:
    """This process's part of a multi-process run; process 0 returns the leaves it wrote."""
    if not options.use_cache:
        raise ConfigError(
            "a run in several processes gathers translations into process 0's cache; "
            "drop --no-cache (or give the run a fresh cache_dir)"
        )
    init_process_group()
    run = _Run(resolved, options, rank)
    try:
        return run.execute()
    except _Stop:
        return []
    finally:
        if run.cache is not None:
            run.cache.close()
        leave_process_group()


class _Run:
    def __init__(self, resolved: ResolvedConfig, options: RunOptions, rank: Rank) -> None:
        self.resolved, self.options, self.rank = resolved, options, rank
        self.cache: TranslationCache | None = None  # process 0's, the only one written
        self.datasets: list[LoadedDataset] = []
        self.models: list[_Model] = []
        self.shard = ShardWriter(resolved.cache_dir, rank.host, rank.rank)
        # Translator flags of this node's cache hits: model -> position -> flags.
        self.hit_flags: dict[int, dict[int, list[str]]] = {}
        self.own_error: BaseException | None = None
        self.group: list[str | None] = []  # every process's cache-dir id, by rank

    def execute(self) -> list[LeafResult]:
        hello = self._setup()
        everyone = collective("starting", lambda: all_gather(hello))
        self._check_hellos(everyone)
        missing = collective("sharing what is cached", lambda: broadcast(self._missing()))
        hits, read_files = self._local_hits(everyone, missing)
        reported = collective("sharing what is cached", lambda: all_gather(sorted_hits(hits)))
        shares, remaining = self._shares(missing, reported)
        report, items = self._translate(shares, hits, reported)
        pieces = chunks(items)
        report.pieces = len(pieces)
        reports = collective("gathering", lambda: all_gather(report))
        bad = self._mismatched_models(reports)
        count = max(r.pieces for r in reports)
        collective("gathering", lambda: gather_chunked(pieces, count, self._receive(bad)))
        if self.rank.is_main:
            self._keep_provenance(reports)
        collective("finishing", lambda: broadcast(True))
        self._clean_up(read_files)
        self._verdict([r.error for r in reports], [r.host for r in reports], bad)
        if not self.rank.is_main:
            raise _Stop
        return write_run(
            self.resolved,
            [m.session for m in self.models],
            self.datasets,
            self._timing(reports, remaining),
        )

    # -- step 1 ---------------------------------------------------------------------------
    def _setup(self) -> _Hello:
        try:
            resolved = self.resolved
            self.datasets = load_datasets(resolved, self.options)
            if self.rank.is_main:
                self.cache = open_cache(resolved, self.options)
            sessions = open_sessions(resolved, self.options, self.cache, self.datasets, self.rank)
            if self.rank.is_main:  # the others check a model only when they get a share of it
                _check_models(sessions, sessions[0].test_sources)
            every = [s.source for d in self.datasets for s in d.segments]
            self.models = [_Model(s, list(dict.fromkeys(every))) for s in sessions]
            cache_id = cache_identity(resolved.cache_dir)
        except Exception as e:  # reported to every process, raised by process 0
            return _Hello(self.rank.host, None, [], self._keep(e))
        return _Hello(self.rank.host, cache_id, [d.fingerprint for d in self.datasets], None)

    def _keep(self, error: BaseException) -> str:
        """Remember this process's error and return its text for the others."""
        self.own_error = error
        if isinstance(error, HarnessError):
            return str(error)
        # A bug, or a library error the harness does not know: its traceback goes to this
        # process's log; process 0 reports its type and message.
        log.error("process %d failed", self.rank.rank, exc_info=error)
        return f"{type(error).__name__}: {error}"

    def _check_hellos(self, everyone: list[_Hello]) -> None:
        errors: list[str | None] = [h.error for h in everyone]
        labels = [dataset_label(c) for c in self.resolved.config.datasets]
        ours = everyone[0].fingerprints
        for r, h in enumerate(everyone):
            if everyone[0].error or h.error or h.fingerprints == ours:
                continue
            pairs = zip(labels, h.fingerprints, ours, strict=True)
            differ = [label for label, a, b in pairs if a != b]
            errors[r] = (
                f"its datasets differ from process 0's ({', '.join(differ)}: other "
                "fingerprints)\nevery host must read the same data: copy the same files"
            )
        self._verdict(errors, [h.host for h in everyone])
        self.group = [h.cache_id for h in everyone]

    # -- steps 2 and 3 --------------------------------------------------------------------
    def _missing(self) -> list[list[int]] | None:
        """Process 0: per model, the positions of the sources its cache lacks."""
        if not self.rank.is_main:
            return None
        out = []
        for m in self.models:
            found = self.cache.get_many(m.session.key, m.sources) if self.cache else {}
            out.append([i for i, s in enumerate(m.sources) if s not in found])
        return out

    def _local_hits(
        self, everyone: list[_Hello], missing: list[list[int]]
    ) -> tuple[dict[int, dict[int, str]], list[Any]]:
        """What this node's own cache dir holds of the missing sources (position ->
        hypothesis, per model), read by one process per cache dir other than process 0's."""
        mine = self.group[self.rank.rank]
        reader = min(r for r, cid in enumerate(self.group) if cid == mine)
        if mine == self.group[0] or reader != self.rank.rank:
            return {}, []
        rows, files = read_shards(self.resolved.cache_dir)
        path = self.resolved.cache_dir / "translations.sqlite"
        node_cache = None
        if path.is_file():
            try:
                node_cache = TranslationCache(path, read_only=True)
            except HarnessError as e:
                log.warning("%s; not used", e)
        hits: dict[int, dict[int, str]] = {}
        try:
            for index, (m, todo) in enumerate(zip(self.models, missing, strict=True)):
                wanted = [m.sources[i] for i in todo]
                found = dict(rows.get(m.session.key, {}))
                if node_cache is not None:
                    found.update(lookup(node_cache, m.session.key, wanted))
                    flags = node_cache.get_flags(m.session.key, list(found))
                    self.hit_flags[index] = {
                        i: list(flags[m.sources[i]]) for i in todo if m.sources[i] in flags
                    }
                hits[index] = {i: found[m.sources[i]] for i in todo if m.sources[i] in found}
        finally:
            if node_cache is not None:
                node_cache.close()
        keys = {m.session.key for m in self.models}
        # Shard files holding other models' rows stay for a run of those models.
        read = [p for p in files if set(shard_keys(p)) <= keys]
        return hits, read

    def _shares(
        self, missing: list[list[int]], reported: list[dict[int, list[int]]]
    ) -> tuple[list[list[int]], list[set[int]]]:
        shares, remaining = [], []
        for index, (m, todo) in enumerate(zip(self.models, missing, strict=True)):
            found = {i for hits in reported for i in hits.get(index, [])}
            left = [i for i in todo if i not in found]
            shares.append(deal_by_length(m.sources, left, self.rank.world)[self.rank.rank])
            remaining.append(set(left))
        return shares, remaining

    # -- step 4 ---------------------------------------------------------------------------
    def _translate(
        self,
        shares: list[list[int]],
        hits: dict[int, dict[int, str]],
        reported: list[dict[int, list[int]]],
    ) -> tuple[_Report, list[tuple[int, int, str, list[str]]]]:
        """Translate this process's shares; returns its report and what goes to process 0:
        (model, position, hypothesis, translator flags) for its node-cache hits (those it found
        first; no flags) and its translations (process 0's are in its cache already)."""
        me = self.rank.rank
        report = _Report(rank=me, host=self.rank.host, pieces=0, error=None)
        items = [
            (index, i, hyp, self.hit_flags.get(index, {}).get(i, []))
            for index, found in hits.items()
            for i, hyp in found.items()
            if _first_finder(reported, index, i) == me
        ]
        for index, (m, share) in enumerate(zip(self.models, shares, strict=True)):
            given = sum(1 for item in items if item[0] == index)
            record = {"rank": me, "host": self.rank.host, "translated": 0, "seconds": 0.0}
            record["from_node_cache"] = given
            report.work[index] = record
            if not share or report.error is not None:
                continue
            started = time.perf_counter()
            try:
                self._translate_share(m, share)
            except Exception as e:  # kept, not raised: this process must still take part
                report.error = self._keep(e)
            wanted = {m.sources[i]: i for i in share}
            store = self.cache if self.rank.is_main else self.shard
            assert store is not None  # process 0 always has its cache here
            done = store.get_many(m.session.key, list(wanted))
            if not self.rank.is_main:
                flags = store.get_flags(m.session.key, list(done))
                items += [(index, wanted[s], h, list(flags.get(s, ()))) for s, h in done.items()]
            seconds = time.perf_counter() - started
            record.update(translated=len(done), seconds=round(seconds, 3))
            report.provenance[index] = dict(m.session.provenance)
            m.session.close()
        return report, items

    def _translate_share(self, m: _Model, share: list[int]) -> None:
        session = m.session
        if not self.rank.is_main:
            from harness.translators import check_available

            check_available(
                session.config, base_dir=self.resolved.base_dir, config_key=session.config_key
            )
        store = self.cache if self.rank.is_main else self.shard
        translate_segments([m.sources[i] for i in share], session, store)

    # -- steps 5 and 6 --------------------------------------------------------------------
    def _mismatched_models(self, reports: list[_Report]) -> set[tuple[int, int]]:
        """(rank, model) pairs whose model files differ from process 0's (another snapshot
        or copy): their translations are not gathered, and the run fails."""
        bad = set()
        for index in range(len(self.models)):
            revisions = {r.rank: r.provenance.get(index, {}).get("revision") for r in reports}
            reference = revisions.get(0) or next((v for v in revisions.values() if v), None)
            for rank, revision in revisions.items():
                if revision and reference and revision != reference:
                    bad.add((rank, index))
        return bad

    def _receive(self, bad: set[tuple[int, int]]) -> Any:
        def receive(rank: int, piece: list[tuple[int, int, str, list[str]]]) -> None:
            by_model: dict[int, list[tuple[str, str]]] = {}
            flags: dict[int, dict[str, list[str]]] = {}
            for index, i, hyp, seg_flags in piece:
                if (rank, index) not in bad:
                    source = self.models[index].sources[i]
                    by_model.setdefault(index, []).append((source, hyp))
                    if seg_flags:
                        flags.setdefault(index, {})[source] = seg_flags
            for index, pairs in by_model.items():
                assert self.cache is not None  # only process 0 receives
                key = self.models[index].session.key
                self.cache.put_many(key, pairs, flags=flags.get(index))

        return receive

    def _keep_provenance(self, reports: list[_Report]) -> None:
        """A model that only other processes loaded: keep their provenance for the results."""
        assert self.cache is not None
        for index, m in enumerate(self.models):
            session = m.session
            if session.provenance or self.cache.get_provenance(session.key):
                continue
            known = next((r.provenance[index] for r in reports if r.provenance.get(index)), None)
            if known:
                self.cache.put_provenance(session.key, known)

    def _clean_up(self, read_files: list[Any]) -> None:
        """Process 0 has everything: the shard files that held it can go."""
        self.shard.delete()
        for path in read_files:
            path.unlink(missing_ok=True)

    def _verdict(
        self, errors: list[str | None], hosts: list[str], bad: Collection[tuple[int, int]] = ()
    ) -> None:
        """Stop every process if any failed: process 0 raises the first error."""
        for rank, index in sorted(bad):
            if errors[rank] is None:
                errors[rank] = (
                    f"{self.models[index].session.config_key}: its model files differ from "
                    "process 0's (another revision or copy)\nevery host must have the same "
                    "model files; its translations of that model were not kept"
                )
        failed = [r for r, e in enumerate(errors) if e is not None]
        if not failed:
            return
        if not self.rank.is_main:
            raise _Stop
        first = failed[0]
        own = self.own_error
        if first == 0 and own is not None and not isinstance(own, HarnessError):
            raise own  # a bug in process 0: the CLI shows its traceback
        raise _failure(first, hosts[first], str(errors[first]), len(failed), self)

    def _timing(
        self, reports: list[_Report], remaining: list[set[int]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Per (model, dataset): how many of its segments were translated in this run (by
        any process) and every process's record for the model (all its datasets)."""
        out = {}
        for index, m in enumerate(self.models):
            position = {s: i for i, s in enumerate(m.sources)}
            ranks = [r.work[index] for r in reports]
            for data_cfg, data in zip(self.resolved.config.datasets, self.datasets, strict=True):
                count = sum(1 for s in data.segments if position[s.source] in remaining[index])
                out[(m.session.label, dataset_label(data_cfg))] = {
                    "uncached_segments": count,
                    "ranks": ranks,
                }
        return out


def sorted_hits(hits: dict[int, dict[int, str]]) -> dict[int, list[int]]:
    """Only positions travel to everyone; the hypotheses go to process 0 in step 5."""
    return {index: sorted(found) for index, found in hits.items()}


def _first_finder(reported: list[dict[int, list[int]]], index: int, position: int) -> int:
    return next(r for r, hits in enumerate(reported) if position in hits.get(index, ()))


def _failure(rank: int, host: str, error: str, failed: int, run: _Run) -> HarnessError:
    """The run's error: the failed process's message, where it ran, and how to resume."""
    first, _, rest = error.partition("\n")
    advice = " ".join(rest.split())
    others = f" ({failed} processes failed; the first is shown)" if failed > 1 else ""
    hint = (
        f"translations finished so far are cached in {run.resolved.cache_dir}: "
        "rerun the same command to resume"
    )
    return HarnessError(
        f"process {rank} of {run.rank.world} (host {host}) failed: {first}{others}\n"
        + (f"{advice}; " if advice else "")
        + hint
    )
