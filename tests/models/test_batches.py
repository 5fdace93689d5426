"""The eval-mode batch loop: mode and grad state restored (also on error), length-sorted batches
that cover every item once, collated and in input-order indices."""

from __future__ import annotations

import pytest
import torch

from obliviate.formatting import collate_left
from obliviate.models.batches import batches, eval_mode


def test_eval_mode_restores_train_mode_and_grad() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5)).train()
    with eval_mode(model):
        assert not model.training and not model[1].training
        assert not torch.is_grad_enabled()
    assert model.training and torch.is_grad_enabled()
    with eval_mode(model, grad=True):
        assert not model.training and torch.is_grad_enabled()
    model.eval()
    with pytest.raises(RuntimeError), eval_mode(model):
        raise RuntimeError("boom")
    assert not model.training  # an eval-mode model stays in eval mode
    model.train()
    with pytest.raises(RuntimeError), eval_mode(model):
        raise RuntimeError("boom")
    assert model.training and torch.is_grad_enabled()


def test_batches_sorted_by_length_cover_every_item() -> None:
    prompts = [[1, 2, 3], [4], [5, 6], [7], [8, 9, 10, 11]]
    got = list(batches(prompts, 2, lambda b: collate_left(b, 0)))
    assert [idx for idx, _ in got] == [[1, 3], [2, 0], [4]]  # stable: equal lengths keep order
    ids = got[1][1]["input_ids"].tolist()
    assert ids == [[0, 5, 6], [1, 2, 3]]  # left padded to the batch's longest prompt
    unsorted = [idx for idx, _ in batches(prompts, 2, lambda b: collate_left(b, 0), sort=False)]
    assert unsorted == [[0, 1], [2, 3], [4]]
