"""Several processes, one program: every rank runs the same code (``accelerate launch`` or
``torchrun``); this module is the little it needs to agree.

- :func:`process_state`: the process group, created once, before any model is loaded (accelerate's
  ``PartialState``: gloo on CPU, NCCL on GPUs); :func:`local_device` is this rank's device;
- :func:`rank`, :func:`world`, :func:`is_main`, :func:`barrier`: no-ops without a process group;
- :func:`on_main`: rank 0 alone writes (files, saved models), the others wait at a barrier, so
  whatever rank 0 wrote is on disk for every rank afterwards;
- :func:`sharded`: a model pass (scoring, generation) over the items of one eval set split
  across ranks (item i goes to rank i mod W), gathered back in input order on every rank; the
  per-rank counts of every pass are kept in :data:`SHARD_LOG`;
- :func:`pooled_means`, :func:`all_reduce_mean_`: logged values and diagnostic gradients
  averaged over ranks (so replicas that mask gradients choose the same masks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")
R = TypeVar("R")

# one entry per sharded pass since the last reset: {"pass", "items", "per_rank"}
SHARD_LOG: list[dict[str, Any]] = []


def process_state():
    """accelerate's ``PartialState`` (the process group; created on the first call)."""
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def local_device() -> torch.device:
    """This rank's device (``cuda:<local rank>``, or the CPU); creates the process group."""
    return torch.device(process_state().device)


def initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def world() -> int:
    return dist.get_world_size() if initialized() else 1


def rank() -> int:
    return dist.get_rank() if initialized() else 0


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if world() > 1:
        dist.barrier()


def on_main(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R | None:
    """``fn(*args, **kwargs)`` on rank 0 only, then a barrier on every rank; rank 0's result
    (None on the other ranks)."""
    out = fn(*args, **kwargs) if is_main() else None
    barrier()
    return out


def gather_objects(obj: Any) -> list[Any]:
    """``obj`` of every rank, in rank order, on every rank (pickled; gloo and NCCL)."""
    if world() == 1:
        return [obj]
    out: list[Any] = [None] * world()
    dist.all_gather_object(out, obj)
    return out


def shard_indices(n: int) -> list[int]:
    """The items of this rank: i ≡ rank (mod world)."""
    return list(range(rank(), n, world()))


def sharded(items: Sequence[T], fn: Callable[[list[T]], list[R]], name: str = "pass") -> list[R]:
    """``fn`` over this rank's share of ``items``, every rank's results gathered back in input
    order (on every rank: the code after a pass runs on all of them)."""
    if world() == 1:
        out = fn(list(items))
        SHARD_LOG.append({"pass": name, "items": len(items), "per_rank": [len(items)]})
        return out
    idx = shard_indices(len(items))
    local = fn([items[i] for i in idx])
    merged: list[Any] = [None] * len(items)
    counts = []
    for part_idx, part in gather_objects((idx, local)):
        counts.append(len(part_idx))
        for i, r in zip(part_idx, part):
            merged[i] = r
    SHARD_LOG.append({"pass": name, "items": len(items), "per_rank": counts})
    return merged


def pooled_means(sums: dict[str, float], counts: dict[str, int]) -> dict[str, float]:
    """Σ_ranks sums[k] / Σ_ranks counts[k] for every key any rank logged (ranks may log
    different parts): the mean over every rank's micro-batches, as one process would log it."""
    parts = gather_objects((sums, counts))
    total: dict[str, float] = {}
    n: dict[str, int] = {}
    for s, c in parts:
        for k, v in s.items():
            total[k], n[k] = total.get(k, 0.0) + v, n.get(k, 0) + c[k]
    return {k: total[k] / n[k] for k in total}


def sum_over_ranks(value: int) -> int:
    return int(sum(gather_objects(value))) if world() > 1 else value


def all_reduce_mean_(tensors: list[torch.Tensor]) -> None:
    """Replace each tensor by its mean over ranks, in place (one flat all-reduce)."""
    if world() == 1 or not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= world()
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset : offset + n].view_as(t))
        offset += n
