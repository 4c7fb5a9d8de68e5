"""Processes of a torchrun launch: ranks, their shares, their GPUs, and the gloo collectives.

What the processes do together (the protocol) is in :mod:`harness.distributed_run`; this
module holds the pieces it is made of, which know nothing about models or caches.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

# A gather moves at most this many pickled bytes per process per call: gloo's gather_object
# moved 5 MB per rank in 0.36 s and 50 MB in 3.1 s here, and smaller pieces let process 0 write
# each one to its cache as it comes (what was gathered stays cached if a later piece fails).
CHUNK_BYTES = 4 << 20


@dataclass(frozen=True)
class Rank:
    """This process's place in a multi-process run."""

    rank: int
    world: int
    local_rank: int
    local_world: int = 1  # processes on this node (torchrun's LOCAL_WORLD_SIZE)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def host(self) -> str:
        return socket.gethostname()

    def shard(self, items: Sequence[T]) -> list[T]:
        """Every ``world``-th item, starting at this rank: disjoint, and together complete."""
        return list(items[self.rank :: self.world])


def current_rank() -> Rank | None:
    """The rank torchrun/accelerate set in the environment, or None for a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return None
    rank = int(os.environ.get("RANK", "0"))
    return Rank(
        rank=rank,
        world=world,
        local_rank=int(os.environ.get("LOCAL_RANK", rank)),
        local_world=int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1),
    )


def init_process_group() -> None:
    """Join the process group: gloo, since it carries only small records and the gathered
    text (CPU objects), whatever devices the models run on."""
    from datetime import timedelta

    import torch.distributed as dist

    if not dist.is_initialized():
        # A process waits in the gather for the slowest one to finish its share, which in a
        # long run can be more than gloo's default 30 minutes; a process that dies is noticed
        # at once anyway (its connections close), so only a hung one waits this long.
        dist.init_process_group(backend="gloo", timeout=timedelta(hours=6))


def leave_process_group() -> None:
    """Destroy the process group before the interpreter exits. Left to exit, gloo's threads
    are torn down by C++ static destructors while still joinable, and about one exit in ten
    aborts ("terminate called without an active exception", SIGABRT), which torchrun then
    reports as this process's failure."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def all_gather(obj: Any) -> list[Any]:
    """Every process's ``obj``, in rank order, on every process (a barrier too)."""
    import torch.distributed as dist

    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj: Any) -> Any:
    """Process 0's ``obj`` on every process (``obj`` is ignored elsewhere)."""
    import torch.distributed as dist

    box = [obj if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def chunks(items: Sequence[T], limit: int = CHUNK_BYTES) -> list[list[T]]:
    """``items`` cut into consecutive pieces of at most ``limit`` pickled bytes (a single
    larger item gets a piece of its own)."""
    import pickle  # multi-process runs only

    out: list[list[T]] = []
    current: list[T] = []
    size = 0
    for item in items:
        n = len(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
        if current and size + n > limit:
            out.append(current)
            current, size = [], 0
        current.append(item)
        size += n
    if current:
        out.append(current)
    return out


def gather_chunked(pieces: Sequence[Any], count: int, receive: Callable[[int, Any], None]) -> None:
    """Gather every process's ``pieces`` to process 0, one round per piece: in round ``i``,
    each process sends its ``i``-th piece (or None when it has no more); process 0 calls
    ``receive(rank, piece)`` for each. ``count`` is the most pieces any process has (every
    process must pass the same, or the rounds do not match)."""
    import torch.distributed as dist

    me, world = dist.get_rank(), dist.get_world_size()
    for i in range(count):
        piece = pieces[i] if i < len(pieces) else None
        out: list[Any] | None = [None] * world if me == 0 else None
        dist.gather_object(piece, out, dst=0)
        if out is not None:
            for rank, got in enumerate(out):
                if got is not None:
                    receive(rank, got)


def deal_by_length(sources: Sequence[str], positions: Sequence[int], world: int) -> list[list[int]]:
    """Split ``positions`` (indices into ``sources``) into ``world`` shares of about equal work:
    longest source first (ties by position: deterministic), dealt round-robin. Each share
    keeps its positions in that order; process ``r`` takes share ``r``."""
    order = sorted(positions, key=lambda i: (-len(sources[i]), i))
    return [order[r::world] for r in range(world)]


def device_for(configured: str, rank: Rank) -> str:
    """``auto``/``cuda`` become this process's own GPU (``cuda:LOCAL_RANK``) when there are
    GPUs; anything else (``cpu``, an explicit ``cuda:N``) is left as configured."""
    if configured not in ("auto", "cuda"):
        return configured
    import torch

    if torch.cuda.is_available():
        return f"cuda:{rank.local_rank % torch.cuda.device_count()}"
    return configured


def gpus_for(rank: Rank | None, count: int) -> list[int]:
    """The GPUs a process spreads a ``device_map: auto`` model over: all ``count`` GPUs for a
    single process, else its own consecutive slice of the node's GPUs (8 GPUs and 2 processes
    per node: 0-3 and 4-7). Empty when the node has fewer GPUs than processes."""
    if rank is None or rank.local_world <= 1:
        return list(range(count))
    per = count // rank.local_world
    return list(range(rank.local_rank * per, (rank.local_rank + 1) * per))


def collective(what: str, call: Callable[[], T]) -> T:
    """Run one collective; a process that died or a host that went away makes gloo raise a
    RuntimeError, which becomes a harness error saying what to do."""
    try:
        return call()
    except RuntimeError as e:
        from harness.errors import HarnessError

        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise HarnessError(
            f"lost contact with the other processes while {what}: {first}\n"
            "a process died or its host became unreachable (torchrun's report says which); "
            "finished translations are in process 0's cache or in shard files on each host: "
            "rerun the same command to resume"
        ) from e
