"""rt: refusal data (benchmark refusals, else forget questions → line i mod 100), the loss by
hand, and a few steps make the refusals more likely."""

from __future__ import annotations

import pytest
from unlearn_helpers import (
    FORGET,
    LABELLED,
    LOGITS,
    FixedLogits,
    fixed_batch,
    mean_nll,
    nll,
    run_method,
    small_data,
)

from obliviate.errors import ObliviateError
from obliviate.methods import Context, get_method_class
from obliviate.records import Passage, QAItem
from obliviate.refusals import IDK_ANSWERS, idk_answer


def test_refusal_data(formatter):
    rt = get_method_class("rt")({})
    built = rt.build_forget(FORGET, formatter, small_data())
    for i, (ex, rec) in enumerate(zip(built, FORGET)):
        assert ex.input_ids == formatter.encode_pair(rec.question, IDK_ANSWERS[i]).input_ids
    assert idk_answer(103) == IDK_ANSWERS[3]
    data = small_data()
    data.extras["refusals"] = [QAItem("Who is X?", "I can't help with that.")]
    assert len(rt.build_forget(FORGET, formatter, data)) == 1
    with pytest.raises(ObliviateError, match="refusal"):
        rt.build_forget([Passage("some text")], formatter, small_data())


def test_rt_loss_by_hand(formatter):
    loss, parts = get_method_class("rt")({}).loss(
        FixedLogits(LOGITS), {"forget": fixed_batch()}, Context(formatter, [], [])
    )
    ce = sum(nll(r, y) for r, y in LABELLED) / 4
    assert float(loss.detach()) == pytest.approx(ce, abs=1e-5)
    assert parts == pytest.approx({"forget_loss": ce}, abs=1e-5)  # no retain term by default
    loss, parts = get_method_class("rt")({"retain_loss": "nll", "alpha": 0.5}).loss(
        FixedLogits(LOGITS), {"forget": fixed_batch(), "retain": fixed_batch()},
        Context(formatter, [], []),
    )  # fmt: skip
    assert float(loss.detach()) == pytest.approx(1.5 * ce, abs=1e-5)
    assert parts == pytest.approx({"forget_loss": ce, "retain_loss": ce}, abs=1e-5)


def test_rt_makes_refusals_more_likely(trained_model, formatter):
    refusals = [formatter.encode_pair(r.question, idk_answer(i)) for i, r in enumerate(FORGET)]
    before = mean_nll(trained_model, formatter, refusals)
    run_method(get_method_class("rt")({}), trained_model, formatter, steps=4)
    assert mean_nll(trained_model, formatter, refusals) < before - 1.0
