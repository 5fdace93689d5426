"""pdu: the forget loss by hand (squared max−mean logit gap on shifted answer positions), the
dual update, the required ε, and a few steps raise the forget NLL while logging λ."""

from __future__ import annotations

import pytest
from unlearn_helpers import LABELLED, LABELS, LOGITS, forget_nll, run_method

from obliviate.errors import ObliviateError
from obliviate.methods import get_method_class
from obliviate.methods.losses import logit_spread_loss
from obliviate.methods.pdu import dual_update


def test_pdu_forget_loss_by_hand():
    gaps = [(max(r) - sum(r) / 3) ** 2 for r, _ in LABELLED]
    # rows [2,0,0] [0,1,0] [0,0,3] [1,2,3]: gaps 4/3, 2/3, 2, 1 -> squares 16/9, 4/9, 4, 1
    assert gaps == pytest.approx([16 / 9, 4 / 9, 4.0, 1.0])
    assert float(logit_spread_loss(LOGITS, LABELS)) == pytest.approx(sum(gaps) / 4, abs=1e-5)


def test_dual_update_and_required_epsilon():
    assert dual_update(100.0, 0.5, 0.3, 5.0) == pytest.approx(101.0)
    assert dual_update(1.0, 0.0, 0.3, 5.0) == 0.0  # projected onto λ >= 0
    with pytest.raises(ObliviateError, match="epsilon"):
        get_method_class("pdu")({})


def test_pdu_dual_moves_after_warmup_and_forget_nll_rises(trained_model, formatter):
    before = forget_nll(trained_model, formatter)
    params = {"epsilon": 0.01, "dual_init": 1.0, "dual_warmup_epochs": 1.0}
    method = get_method_class("pdu")(params)
    _, log = run_method(method, trained_model, formatter, steps=4)
    # 4 forget items, batch 4: step 1 is the warmup epoch, λ moves from step 2 on
    assert log[0]["dual"] == 1.0 and log[1]["dual"] == 1.0
    expected = dual_update(1.0, log[1]["retain_loss"], 0.01, 5.0)
    assert log[2]["dual"] == pytest.approx(expected, rel=1e-6)
    assert forget_nll(trained_model, formatter) > before + 0.5
