"""Step accounting for W processes and grad_accum A: every layout with the same micro-batch and
the same W·A trains on the same micro-batches at the same optimizer steps."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import DataLoader

from obliviate.train_steps import RankBatches, RetainDraws, plan_steps


def steps_of(n: int, b: int, world: int, accum: int, seed: int = 0, epochs: int = 2,
             lengths: list[int] | None = None):  # fmt: skip
    """Per optimizer step, the sorted example indices every rank trains on (empty slots out)."""
    ranks = [RankBatches(n, b, world, r, accum, seed, lengths) for r in range(world)]
    steps = []
    for _ in range(epochs):
        per_rank = [list(rb.epoch()) for rb in ranks]
        assert len({len(p) for p in per_rank}) == 1  # every rank takes as many micro-batches
        for s in range(len(per_rank[0]) // accum):
            got = [i for p in per_rank for m in p[s * accum : (s + 1) * accum] for i in m or []]
            steps.append(sorted(got))
    return steps


def _lengths(n: int, seed: int = 5) -> list[int]:
    return torch.randint(3, 60, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


def _real_over_padded(batches: list[list[int]], lengths: list[int]) -> float:
    real = sum(lengths[i] for mb in batches for i in mb)
    return real / sum(len(mb) * max(lengths[i] for i in mb) for mb in batches)


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("world", [1, 2, 4])
@pytest.mark.parametrize("accum", [1, 2])
@pytest.mark.parametrize("n", [10, 13, 16])
def test_steps_match_one_process_accumulating_w_times_a(world, accum, n, grouped):
    b = 2
    lengths = _lengths(n) if grouped else None
    plan = plan_steps(n, b, world, accum, epochs=2)
    # M = ceil(n / b) micro-batches per epoch, W·A per step
    assert plan.steps_per_epoch == math.ceil(math.ceil(n / b) / (world * accum))
    assert plan.total == 2 * plan.steps_per_epoch
    layout = steps_of(n, b, world, accum, lengths=lengths)
    assert len(layout) == plan.total
    # the same examples at every step
    assert layout == steps_of(n, b, 1, world * accum, lengths=lengths)
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


@pytest.mark.parametrize(("n", "b"), [(400, 8), (37, 4), (3000, 16)])
def test_length_grouping_removes_the_padding_and_keeps_every_example_once(n, b):
    """Lengths uniform in [3, 60): plain shuffled micro-batches train ~half padding; grouped
    ones are within 10% of their real tokens, see each example once an epoch, keep the number
    of micro-batches, and do not come in length order (the micro-batches are shuffled)."""
    lengths = _lengths(n)
    plain = list(RankBatches(n, b, 1, 0, 1, seed=0).epoch())
    grouped_batches = RankBatches(n, b, 1, 0, 1, seed=0, lengths=lengths)
    for _ in range(2):
        grouped = list(grouped_batches.epoch())
        assert len(grouped) == len(plain) == math.ceil(n / b)
        assert sorted(i for mb in grouped for i in mb) == list(range(n))
        assert _real_over_padded(grouped, lengths) >= 0.9
        longest = [max(lengths[i] for i in mb) for mb in grouped]
        assert longest != sorted(longest) and longest != sorted(longest, reverse=True)
    assert _real_over_padded(plain, lengths) < 0.75


def test_grouped_retain_draws_are_uniform_grouped_and_resume_mid_pool():
    """Grouped retain draws: every rank keeps its micro-batches' draws of the one stream; each
    draw is b indices with replacement, grouped by length; a stream restored from
    :meth:`RetainDraws.state` taken mid-pool (or at a pool's end) continues it draw for draw."""
    n, b = 500, 4
    lengths = _lengths(n)
    one = RetainDraws(n, b, seed=7, lengths=lengths)
    stream = [one.draw(g) for g in range(130)]  # more than two pools of 50
    assert all(len(d) == b and all(0 <= i < n for i in d) for d in stream)
    assert _real_over_padded(stream, lengths) >= 0.9
    counts = torch.bincount(torch.tensor(stream).flatten(), minlength=n)
    assert counts.max() < 8  # 520 draws of 500: uniform, not a few favourites
    for rank in (0, 1):
        draws = RetainDraws(n, b, seed=7, lengths=lengths)
        assert [draws.draw(g) for g in range(rank, 130, 2)] == stream[rank::2]
    for cut in (17, 50, 99):
        first = RetainDraws(n, b, seed=7, lengths=lengths)
        for g in range(cut):
            first.draw(g)
        resumed = RetainDraws(n, b, seed=7, lengths=lengths)
        resumed.restore(*first.state())
        assert [resumed.draw(g) for g in range(cut, 130)] == stream[cut:]
    plain = RetainDraws(n, b, seed=7)  # ungrouped: the state is the generator's, as before
    plain.draw(0)
    gen_state, nxt = plain.state()
    assert nxt == 1 and torch.equal(gen_state, plain.gen.get_state())
