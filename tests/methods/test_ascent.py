"""ga / gd / ga_kl: the method losses on fixed logits, and a few steps raise the forget NLL."""

from __future__ import annotations

import math

import pytest
import torch
from batch_values import ce_batch
from unlearn_helpers import (
    FORGET,
    LABELLED,
    LOGITS,
    FixedLogits,
    fixed_batch,
    forget_nll,
    nll,
    run_method,
    softmax,
)

from obliviate.methods import Context, get_method_class
from obliviate.models.reference import FrozenCopy

CE = sum(nll(r, y) for r, y in LABELLED) / 4  # CE_batch of the fixed batch


def test_ascent_losses_on_fixed_logits(formatter):
    model = FixedLogits(LOGITS)
    batch = {"forget": fixed_batch(), "retain": fixed_batch()}
    ctx = Context(formatter, [], [], FrozenCopy(FixedLogits(torch.zeros_like(LOGITS))))
    ga, _ = get_method_class("ga")({"gamma": 2.0}).loss(model, batch, ctx)
    assert float(ga.detach()) == pytest.approx(-2.0 * CE, abs=1e-5)
    gd, parts = get_method_class("gd")({"alpha": 0.5}).loss(model, batch, ctx)
    assert float(gd.detach()) == pytest.approx(-CE + 0.5 * CE, abs=1e-5)
    assert parts["forget_loss"] == pytest.approx(-CE, abs=1e-5)
    # KL(uniform reference || model) averaged over the 4 labelled positions
    kl = (
        sum(sum((1 / 3) * (math.log(1 / 3) - math.log(q)) for q in softmax(r)) for r, _ in LABELLED)
        / 4
    )
    ga_kl, _ = get_method_class("ga_kl")({}).loss(model, batch, ctx)
    assert float(ga_kl.detach()) == pytest.approx(-CE + kl, abs=1e-5)


@pytest.mark.parametrize("name", ["ga", "gd", "ga_kl"])
def test_ascent_raises_forget_nll(name, trained_model, formatter):
    before = forget_nll(trained_model, formatter)
    ce_f = ce_batch(trained_model, formatter, [formatter.encode_record(r) for r in FORGET])
    _, log = run_method(get_method_class(name)({}), trained_model, formatter, steps=4)
    assert forget_nll(trained_model, formatter) > before + 0.1
    # step 1: one batch of the 4 forget items under the starting model, γ = α = 1
    first = log[0]
    assert first["forget_loss"] == pytest.approx(-ce_f, abs=1e-4)
    assert first["loss"] == pytest.approx(first["forget_loss"] + first.get("retain_loss", 0.0))
    assert ("retain_loss" in first) == (name != "ga")
    if name == "ga_kl":  # the reference is the starting model: KL_R = 0 before the first update
        assert first["retain_loss"] == pytest.approx(0.0, abs=1e-6)
