"""Which micro-batch each rank trains on at each optimizer step, and how many steps a run takes.

One epoch: a seeded permutation of the N examples cut into M = ⌈N / b⌉ micro-batches of
``batch_size`` b (the last one may be short), the *global* list, padded with empty slots to a
multiple of W × A (W processes, A = ``grad_accum``). Optimizer step s takes global micro-batches
[s·W·A, (s+1)·W·A); rank r's k-th micro-batch is global micro-batch k·W + r. So

    steps per epoch = ⌈M / (W·A)⌉,  total = max_steps or ⌈epochs × steps per epoch⌉,
    warmup = ⌊warmup_ratio × total⌋,

and any two layouts with the same b and W·A (1 process with grad_accum 2, 2 processes with
grad_accum 1) train on the same micro-batches at the same steps. An empty slot is a micro-batch
whose loss is multiplied by 0 (a rank must still join DDP's gradient all-reduce): the step's
gradient stays Σ ∇L_micro / (W·A), exactly as one process accumulating a short last step
(accelerate divides every micro-batch's loss by A). With one process empty slots are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class StepPlan:
    """Optimizer steps of one training run (the global batch: b × W × A examples)."""

    micro_per_epoch: int  # micro-batches per rank per epoch (empty slots included)
    steps_per_epoch: int
    total: int
    warmup: int


def plan_steps(
    n: int, batch_size: int, world: int, grad_accum: int, epochs: float, max_steps: int = -1,
    warmup_ratio: float = 0.0,
) -> StepPlan:  # fmt: skip
    """The steps of a run over ``n`` examples (see the module docstring)."""
    per_epoch = max(1, math.ceil(math.ceil(n / batch_size) / (world * grad_accum)))
    total = max_steps if max_steps > 0 else max(1, math.ceil(epochs * per_epoch))
    return StepPlan(per_epoch * grad_accum, per_epoch, total, int(warmup_ratio * total))


class RankBatches:
    """This rank's micro-batches, epoch after epoch: lists of example indices, or ``None`` for
    an empty slot. Every rank draws the same permutations (same seeded generator)."""

    def __init__(self, n: int, batch_size: int, world: int, rank: int, grad_accum: int,
                 seed: int):  # fmt: skip
        self.n, self.b, self.world, self.rank = n, batch_size, world, rank
        self.group = world * grad_accum
        self.gen = torch.Generator().manual_seed(seed)

    def epoch(self) -> Iterator[list[int] | None]:
        # the draws of a torch DataLoader(shuffle=True, generator=...) epoch: its worker base
        # seed, the RandomSampler's permutation, then the sampler's second randperm (of which it
        # keeps num_samples % n = 0 items); so one process trains in exactly the order of the
        # shuffled DataLoader it replaced
        torch.empty((), dtype=torch.int64).random_(generator=self.gen)
        perm = torch.randperm(self.n, generator=self.gen).tolist()
        torch.randperm(self.n, generator=self.gen)
        micro = [perm[i : i + self.b] for i in range(0, self.n, self.b)]
        padded = micro + [None] * (-len(micro) % self.group)
        yield from padded[self.rank :: self.world]


class RetainDraws:
    """Retain indices paired with each global micro-batch: one seeded stream drawn in global
    micro-batch order (``randint(n, (b,))`` per micro-batch). Every rank walks the whole stream
    and keeps its own micro-batches' draws, so W processes pair each micro-batch with the retain
    batch one process pairs it with."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.b = n, batch_size
        self.gen = torch.Generator().manual_seed(seed * 1000 + 17)
        self.next = 0  # the global micro-batch index of the next draw

    def draw(self, micro_index: int) -> list[int]:
        """The retain indices of global micro-batch ``micro_index`` (increasing calls only)."""
        if micro_index < self.next:
            raise ValueError(f"retain draw {micro_index} asked after {self.next - 1}")
        while True:
            idx = torch.randint(self.n, (self.b,), generator=self.gen).tolist()
            self.next += 1
            if self.next - 1 == micro_index:
                return idx
