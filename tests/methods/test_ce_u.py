"""ce_u: the loss by hand (CE to the model's own distribution without the gold token, the first
answer token skipped), and a few steps raise the forget NLL."""

from __future__ import annotations

import math

import pytest
import torch
from unlearn_helpers import LABELLED, LABELS, LOGITS, forget_nll, run_method, softmax

from obliviate.methods import get_method_class
from obliviate.methods.losses import ce_u_loss


def _ce_u(row: list[float], y: int) -> float:
    rest = [v for k, v in enumerate(row) if k != y]
    z = sum(math.exp(v) for v in rest)
    target = [0.0 if k == y else math.exp(v) / z for k, v in enumerate(row)]
    return -sum(t * math.log(p) for t, p in zip(target, softmax(row)))


def test_ce_u_loss_by_hand():
    # skip_first = 1: sequence 0 drops its first labelled token, sequence 1 its only one
    kept = LABELLED[1:3]
    expected = sum(_ce_u(r, y) for r, y in kept) / 2
    assert float(ce_u_loss(LOGITS, LABELS, skip_first=1)) == pytest.approx(expected, abs=1e-5)
    everything = sum(_ce_u(r, y) for r, y in LABELLED) / 4
    assert float(ce_u_loss(LOGITS, LABELS, skip_first=0)) == pytest.approx(everything, abs=1e-5)
    # the target is detached: the gradient is that of CE(fixed target, softmax(z))
    z = LOGITS.clone().requires_grad_(True)
    ce_u_loss(z, LABELS, skip_first=0).backward()
    row, y = LABELLED[3]
    rest = sum(math.exp(v) for k, v in enumerate(row) if k != y)
    target = [0.0 if k == y else math.exp(v) / rest for k, v in enumerate(row)]
    expected_grad = [(p - t) / 4 for p, t in zip(softmax(row), target)]
    assert z.grad[1, 1].tolist() == pytest.approx(expected_grad, abs=1e-5)


def test_ce_u_raises_forget_nll(trained_model, formatter):
    before = forget_nll(trained_model, formatter)
    _, log = run_method(get_method_class("ce_u")({}), trained_model, formatter, steps=4)
    assert forget_nll(trained_model, formatter) > before + 0.5
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in log)
    assert [e["loss"] for e in log] == [e["forget_loss"] for e in log]  # L_f alone, no retain
