"""Data-parallel translation under torchrun (or accelerate launch): one process per device.

Every process loads the datasets and its own copy of each model, translates its share of the
segments not cached yet, and writes them to the shared SQLite translation cache. After a
barrier, process 0 runs the ordinary single-process flow, which now finds every translation in
the cache, and writes the run folder; the others exit. The cache is what gathers the results,
so an interrupted distributed run resumes like any other.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Rank:
    """This process's place in a multi-process run."""

    rank: int
    world: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, items: Sequence[T]) -> list[T]:
        """Every ``world``-th item, starting at this rank: disjoint, and together complete."""
        return list(items[self.rank :: self.world])


def current_rank() -> Rank | None:
    """The rank torchrun/accelerate set in the environment, or None for a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return None
    rank = int(os.environ.get("RANK", "0"))
    return Rank(rank=rank, world=world, local_rank=int(os.environ.get("LOCAL_RANK", rank)))


def init_process_group() -> None:
    """Join the process group (gloo: it only carries a barrier and a few small objects)."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")


def gather(obj: Any) -> list[Any]:
    """Every process's ``obj``, in rank order (a barrier too)."""
    import torch.distributed as dist

    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def device_for(configured: str, rank: Rank) -> str:
    """``auto``/``cuda`` become this process's own GPU (``cuda:LOCAL_RANK``) when there are
    GPUs; anything else (``cpu``, an explicit ``cuda:N``) is left as configured."""
    if configured not in ("auto", "cuda"):
        return configured
    import torch

    if torch.cuda.is_available():
        return f"cuda:{rank.local_rank % torch.cuda.device_count()}"
    return configured


def translate_shards(
    sessions: Sequence[Any], datasets: Sequence[Any], labels: Sequence[str], rank: Rank
) -> dict[tuple[str, str], dict[str, Any]]:
    """Translate this process's share of every uncached source, model by model, into the cache.

    Every process first reads the cache for everything, then waits for the others, and only
    then translates: shares computed from different views of a cache that others are already
    writing would overlap and leave gaps. A model's datasets are translated together (a
    source in two datasets once). Returns, per (model, dataset), how many of its segments were
    uncached and what every process did for that model, for the results' timing.
    """
    from harness.runner import translate_segments

    plans = []
    for session in sessions:
        uncached: dict[str, int] = {}
        todo: list[str] = []
        for label, data in zip(labels, datasets, strict=True):
            sources = [segment.source for segment in data.segments]
            cached = session.cache.get_many(session.key, sources)
            missing = [s for s in sources if s not in cached]
            uncached[label] = len(missing)
            todo.extend(missing)
        plans.append((session, uncached, rank.shard(list(dict.fromkeys(todo)))))
    gather(None)  # everyone has read the cache; from here on it is written
    mine: dict[str, dict[str, Any]] = {}
    for session, _, share in plans:
        seconds = translate_segments(share, session, session.cache).seconds if share else 0.0
        session.close()
        mine[session.label] = {
            "rank": rank.rank,
            "translated": len(share),
            "seconds": round(seconds, 3),
        }
    everyone = gather(mine)
    return {
        (session.label, label): {
            "uncached_segments": count,
            "ranks": [ranks[session.label] for ranks in everyone],
        }
        for session, uncached, _ in plans
        for label, count in uncached.items()
    }
