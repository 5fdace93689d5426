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

Length grouping (``group_by_length``, the default): a micro-batch is right-padded to its longest
example, so examples of mixed lengths train padding. As HF Trainer's ``LengthGroupedSampler``,
the permutation is cut into megabatches of G·b examples (G = ``GROUP_BATCHES``), each sorted by
length and cut into micro-batches; the epoch's micro-batches are then shuffled (one more
``randperm`` from the same generator), so the lengths a step sees are not a curriculum. Retain
draws likewise: G micro-batches' draws at once (``randint(n, (G·b,))``), sorted, cut, shuffled.
Each example is still seen once an epoch and each retain draw is still uniform with replacement;
only which examples share a micro-batch changes. Off, the order is a plain shuffled DataLoader's.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

GROUP_BATCHES = 50  # micro-batches per length-sorted megabatch (HF's LengthGroupedSampler: 50)


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


def length_sorted_chunks(idx: list[int], lengths: Sequence[int], b: int,
                         gen: torch.Generator) -> list[list[int]]:  # fmt: skip
    """``idx`` cut into micro-batches of ``b`` after sorting each megabatch of
    ``GROUP_BATCHES`` × b by length (stable: equal lengths keep their random order), the
    micro-batches then shuffled with ``gen``."""
    mega = GROUP_BATCHES * b
    chunks = []
    for start in range(0, len(idx), mega):
        part = sorted(idx[start : start + mega], key=lambda i: lengths[i])
        chunks += [part[i : i + b] for i in range(0, len(part), b)]
    return [chunks[j] for j in torch.randperm(len(chunks), generator=gen).tolist()]


class RankBatches:
    """This rank's micro-batches, epoch after epoch: lists of example indices, or ``None`` for
    an empty slot. Every rank draws the same permutations (same seeded generator). ``lengths``
    (per example): group micro-batches by length (module docstring)."""

    def __init__(self, n: int, batch_size: int, world: int, rank: int, grad_accum: int,
                 seed: int, lengths: Sequence[int] | None = None):  # fmt: skip
        self.n, self.b, self.world, self.rank = n, batch_size, world, rank
        self.group = world * grad_accum
        self.gen = torch.Generator().manual_seed(seed)
        self.lengths = lengths

    def epoch(self) -> Iterator[list[int] | None]:
        # the draws of a torch DataLoader(shuffle=True, generator=...) epoch: its worker base
        # seed, the RandomSampler's permutation, then the sampler's second randperm (of which it
        # keeps num_samples % n = 0 items); so one process trains in exactly the order of the
        # shuffled DataLoader it replaced
        torch.empty((), dtype=torch.int64).random_(generator=self.gen)
        perm = torch.randperm(self.n, generator=self.gen).tolist()
        torch.randperm(self.n, generator=self.gen)
        if self.lengths is None:
            micro = [perm[i : i + self.b] for i in range(0, self.n, self.b)]
        else:
            micro = length_sorted_chunks(perm, self.lengths, self.b, self.gen)
        padded = micro + [None] * (-len(micro) % self.group)
        yield from padded[self.rank :: self.world]


class RetainDraws:
    """Retain indices paired with each global micro-batch: one seeded stream drawn in global
    micro-batch order (``randint(n, (b,))`` per micro-batch; with ``lengths``, G micro-batches'
    draws at a time, grouped by length). Every rank walks the whole stream and keeps its own
    micro-batches' draws, so W processes pair each micro-batch with the retain batch one process
    pairs it with. :meth:`state` / :meth:`restore` carry the stream across a resume."""

    def __init__(self, n: int, batch_size: int, seed: int,
                 lengths: Sequence[int] | None = None):  # fmt: skip
        self.n, self.b, self.lengths = n, batch_size, lengths
        self.gen = torch.Generator().manual_seed(seed * 1000 + 17)
        self.next = 0  # the global micro-batch index of the next draw
        self.pool_size = 1 if lengths is None else GROUP_BATCHES
        self._pool: list[list[int]] | None = None
        self._pool_state: torch.Tensor | None = None  # the generator before the current pool

    def _fill(self) -> None:
        self._pool_state = self.gen.get_state()
        idx = torch.randint(self.n, (self.pool_size * self.b,), generator=self.gen).tolist()
        if self.lengths is None:
            self._pool = [idx]
        else:
            self._pool = length_sorted_chunks(idx, self.lengths, self.b, self.gen)

    def draw(self, micro_index: int) -> list[int]:
        """The retain indices of global micro-batch ``micro_index`` (increasing calls only)."""
        if micro_index < self.next:
            raise ValueError(f"retain draw {micro_index} asked after {self.next - 1}")
        while True:
            if self._pool is None or self.next % self.pool_size == 0:
                self._fill()
            assert self._pool is not None
            idx = self._pool[self.next % self.pool_size]
            self.next += 1
            if self.next - 1 == micro_index:
                return idx

    def state(self) -> tuple[torch.Tensor, int]:
        """(generator state, next index): :meth:`restore` continues the stream from here."""
        mid_pool = self._pool is not None and self.next % self.pool_size != 0
        return (self._pool_state if mid_pool else self.gen.get_state()), self.next  # type: ignore[return-value]

    def restore(self, gen_state: torch.Tensor, next_index: int) -> None:
        self.gen.set_state(gen_state)
        self.next, self._pool = next_index, None  # a pool begun is drawn again from its state
