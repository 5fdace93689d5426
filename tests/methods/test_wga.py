"""wga: the loss by hand (−mean sg(p^β)·ℓ over labelled positions, weights without gradient),
and a few steps raise the forget NLL."""

from __future__ import annotations

import math

import pytest
from unlearn_helpers import LABELLED, LABELS, LOGITS, forget_nll, nll, run_method

from obliviate.methods import get_method_class
from obliviate.methods.losses import weighted_ascent_loss


def test_wga_loss_by_hand():
    beta = 2.0
    terms = [math.exp(-nll(r, y)) ** beta * nll(r, y) for r, y in LABELLED]
    got = weighted_ascent_loss(LOGITS, LABELS, beta)
    assert float(got) == pytest.approx(-sum(terms) / 4, abs=1e-5)
    # the weight carries no gradient: d/dz of −w·ℓ equals −w·dℓ/dz
    z = LOGITS.clone().requires_grad_(True)
    weighted_ascent_loss(z, LABELS, beta).backward()
    row, y = LABELLED[3]  # sequence 1, position 1
    w = math.exp(-nll(row, y)) ** beta
    p = [math.exp(v) / sum(math.exp(u) for u in row) for v in row]
    expected = [-w * (pk - (1.0 if k == y else 0.0)) / 4 for k, pk in enumerate(p)]
    assert z.grad[1, 1].tolist() == pytest.approx(expected, abs=1e-5)


def test_wga_raises_forget_nll(trained_model, formatter):
    before = forget_nll(trained_model, formatter)
    _, log = run_method(get_method_class("wga")({}), trained_model, formatter, steps=4)
    assert forget_nll(trained_model, formatter) > before + 0.5
    # L = γ·L_f + α·CE(retain) with γ = α = 1; L_f < 0 (an ascent weighted by p^β > 0)
    for entry in log:
        assert entry["loss"] == pytest.approx(entry["forget_loss"] + entry["retain_loss"])
        assert entry["forget_loss"] < 0 < entry["retain_loss"]
