"""Step accounting for W processes and grad_accum A: every layout with the same micro-batch and
the same W·A trains on the same micro-batches at the same optimizer steps."""

from __future__ import annotations

import math

import pytest

from obliviate.train_steps import RankBatches, plan_steps


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
