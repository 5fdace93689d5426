"""Step accounting for W processes and grad_accum A: every layout with the same micro-batch and
the same W·A trains on the same micro-batches at the same optimizer steps."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import DataLoader

from obliviate.train_steps import RankBatches, RetainDraws, plan_steps


def steps_of(n: int, b: int, world: int, accum: int, seed: int = 0, epochs: int = 2):
    """Per optimizer step, the sorted example indices every rank trains on (empty slots out)."""
    ranks = [RankBatches(n, b, world, r, accum, seed) for r in range(world)]
    steps = []
    for _ in range(epochs):
        per_rank = [list(rb.epoch()) for rb in ranks]
        assert len({len(p) for p in per_rank}) == 1  # every rank takes as many micro-batches
        for s in range(len(per_rank[0]) // accum):
            got = [i for p in per_rank for m in p[s * accum : (s + 1) * accum] for i in m or []]
            steps.append(sorted(got))
    return steps


@pytest.mark.parametrize("world", [1, 2, 4])
@pytest.mark.parametrize("accum", [1, 2])
@pytest.mark.parametrize("n", [10, 13, 16])
def test_steps_match_one_process_accumulating_w_times_a(world, accum, n):
    b = 2
    plan = plan_steps(n, b, world, accum, epochs=2)
    # M = ceil(n / b) micro-batches per epoch, W·A per step
    assert plan.steps_per_epoch == math.ceil(math.ceil(n / b) / (world * accum))
    assert plan.total == 2 * plan.steps_per_epoch
    layout = steps_of(n, b, world, accum)
    assert len(layout) == plan.total
    assert layout == steps_of(n, b, 1, world * accum)  # the same examples at every step
    for s in range(0, len(layout), plan.steps_per_epoch):  # each epoch sees every example once
        epoch = [i for step in layout[s : s + plan.steps_per_epoch] for i in step]
        assert sorted(epoch) == list(range(n))


def test_plan_counts_warmup_and_max_steps():
    plan = plan_steps(100, 4, 2, 2, epochs=1.5, warmup_ratio=0.1)
    # 25 micro-batches, 4 per step -> 7 steps per epoch; ceil(1.5 * 7) = 11; int(0.1 * 11) = 1
    assert (plan.steps_per_epoch, plan.total, plan.warmup) == (7, 11, 1)
    assert plan_steps(100, 4, 4, 1, epochs=3, max_steps=7).total == 7
    assert plan_steps(8, 4, 4, 2, epochs=1).total == 1  # fewer micro-batches than slots
    assert plan_steps(1000, 8, 1, 1, epochs=1, warmup_ratio=0.05).warmup == 6


@pytest.mark.parametrize(("n", "b", "seed"), [(37, 8, 3), (464, 16, 0), (5, 8, 1)])
def test_one_process_keeps_the_shuffled_dataloader_order(n, b, seed):
    """Runs made before the step plan (a DataLoader(shuffle=True, generator=seed)) train on the
    same batches, epoch after epoch, so their numbers reproduce."""
    loader = DataLoader(list(range(n)), batch_size=b, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))  # fmt: skip
    expected = [[int(i) for i in batch] for _ in range(3) for batch in loader]
    batches = RankBatches(n, b, world=1, rank=0, grad_accum=1, seed=seed)
    assert [mb for _ in range(3) for mb in batches.epoch()] == expected


def test_retain_draws_are_one_stream_in_global_micro_batch_order():
    """Rank r of W keeps the draws of its micro-batches k·W + r from the one stream."""
    one = RetainDraws(50, 4, seed=7)
    stream = [one.draw(g) for g in range(8)]
    gen = torch.Generator().manual_seed(7 * 1000 + 17)  # the stream of a 1-process run
    assert stream == [torch.randint(50, (4,), generator=gen).tolist() for _ in range(8)]
    for rank in (0, 1):
        draws = RetainDraws(50, 4, seed=7)
        assert [draws.draw(g) for g in range(rank, 8, 2)] == stream[rank::2]
    with pytest.raises(ValueError):
        draws.draw(0)
