"""undial: the loss by hand (teacher softmax with the gold logit lowered by β, labelled
positions only), and a few steps raise the forget NLL."""

from __future__ import annotations

import math

import pytest
import torch
from unlearn_helpers import LABELLED, LABELS, LOGITS, forget_nll, run_method, softmax

from obliviate.methods import get_method_class
from obliviate.methods.losses import undial_loss

REF = torch.tensor(
    [
        [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.5, 0.0, 1.0], [0.0, 0.0, 0.0]],
        [[9.0, 9.0, 9.0], [0.0, 1.0, 2.0], [9.0, 9.0, 9.0], [9.0, 9.0, 9.0]],
    ]
)


def test_undial_loss_by_hand():
    beta = 3.0
    ref_rows = [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.5, 0.0, 1.0], [0.0, 1.0, 2.0]]
    total = 0.0
    for (row, y), ref in zip(LABELLED, ref_rows):
        adjusted = [v - beta if k == y else v for k, v in enumerate(ref)]
        q = softmax(adjusted)
        p = softmax(row)
        total += -sum(qk * math.log(pk) for qk, pk in zip(q, p))
    assert float(undial_loss(LOGITS, REF, LABELS, beta)) == pytest.approx(total / 4, abs=1e-5)
    # unlabelled positions (rows of 9s) do not count: changing them changes nothing
    other = REF.clone()
    other[1, 0] = other[1, 2] = torch.tensor([0.0, 5.0, -5.0])
    assert float(undial_loss(LOGITS, other, LABELS, beta)) == pytest.approx(total / 4, abs=1e-5)


def test_undial_raises_forget_nll(trained_model, formatter):
    before = forget_nll(trained_model, formatter)
    method = get_method_class("undial")({})
    assert not method.uses_retain()  # OU cfg: alpha = 0, no retain forward
    ctx, _ = run_method(method, trained_model, formatter, steps=4)
    assert ctx.reference is not None  # per-token teacher: a frozen copy
    assert forget_nll(trained_model, formatter) > before + 0.5
