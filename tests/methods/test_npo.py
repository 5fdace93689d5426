"""npo / npo_gd / npo_kl / simnpo: method losses on fixed logits (against cached reference
NLLs), and a few steps raise the forget NLL. Pure loss formulas: test_losses.py."""

from __future__ import annotations

import math

import pytest
import torch
from unlearn_helpers import (
    LABELLED,
    LOGITS,
    FixedLogits,
    fixed_batch,
    forget_nll,
    logsig,
    nll,
    run_method,
)

from obliviate.methods import Context, get_method_class

SEQ0 = sum(nll(r, y) for r, y in LABELLED[:3])  # NLL_sum of sequence 0 (3 labelled tokens)
SEQ1 = nll(*LABELLED[3])  # NLL_sum of sequence 1 (1 labelled token)


def test_npo_method_uses_cached_reference(formatter):
    ctx = Context(formatter, [], [], ref_cache={"forget_nll_sum": torch.tensor([1.0, 2.0])})
    batch = {"forget": fixed_batch()}
    loss, _ = get_method_class("npo")({"retain_loss": "none", "beta": 0.5}).loss(
        FixedLogits(LOGITS), batch, ctx
    )
    expected = -(2 / 0.5) * (logsig(0.5 * (SEQ0 - 1.0)) + logsig(0.5 * (SEQ1 - 2.0))) / 2
    assert float(loss.detach()) == pytest.approx(expected, abs=1e-5)


def test_simnpo_method_length_normalises(formatter):
    batch = {"forget": fixed_batch()}
    params = {"retain_loss": "none", "beta": 2.0, "delta": 0.5, "gamma": 1.0}
    loss, _ = get_method_class("simnpo")(params).loss(
        FixedLogits(LOGITS), batch, Context(formatter, [], [])
    )
    expected = -(2 / 2.0) * (logsig(2.0 * (SEQ0 / 3 - 0.5)) + logsig(2.0 * (SEQ1 - 0.5))) / 2
    assert float(loss.detach()) == pytest.approx(expected, abs=1e-5)
    assert math.isfinite(expected)


@pytest.mark.parametrize("name", ["npo", "npo_gd", "npo_kl", "simnpo"])
def test_npo_family_raises_forget_nll(name, trained_model, formatter):
    before = forget_nll(trained_model, formatter)
    params = {"gamma": 1.0} if name == "simnpo" else {}
    ctx, log = run_method(get_method_class(name)(params), trained_model, formatter, steps=4)
    assert forget_nll(trained_model, formatter) > before + 0.05
    if name != "simnpo":
        assert ctx.ref_cache["forget_nll_sum"].shape == (4,)
        assert ctx.reference is None or name == "npo_kl"  # the cache replaces a model copy
