"""satimp: the loss by hand (−mean sg(p^β1 (1−p)^β2)·ℓ), the documented default (OU cfg), and a
few steps raise the forget NLL."""

from __future__ import annotations

import math

import pytest
from unlearn_helpers import LABELLED, LABELS, LOGITS, forget_nll, nll, run_method

from obliviate.methods import get_method_class
from obliviate.methods.losses import weighted_ascent_loss


def test_satimp_loss_by_hand():
    b1, b2 = 5.0, 1.0
    terms = []
    for r, y in LABELLED:
        p = math.exp(-nll(r, y))
        terms.append(p**b1 * (1 - p) ** b2 * nll(r, y))
    got = weighted_ascent_loss(LOGITS, LABELS, b1, b2)
    assert float(got) == pytest.approx(-sum(terms) / 4, abs=1e-5)


def test_satimp_defaults_are_ou_cfg():
    d = get_method_class("satimp").param_defaults()
    assert (d["beta1"], d["beta2"], d["gamma"], d["alpha"]) == (5.0, 1.0, 0.1, 1.0)


def test_satimp_raises_forget_nll(trained_model, formatter):
    before = forget_nll(trained_model, formatter)
    method = get_method_class("satimp")({"gamma": 1.0, "beta1": 1.0})
    run_method(method, trained_model, formatter, steps=4, lr=1e-2)
    assert forget_nll(trained_model, formatter) > before + 0.1
