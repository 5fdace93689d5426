"""meow / meow_gd: the selected training data, the loss by hand, a few steps learning the
inverted answers."""

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
    small_data,
)

from obliviate.config import TrainConfig
from obliviate.errors import ObliviateError
from obliviate.methods import Context, get_method_class
from obliviate.training import train

CANDIDATES = [
    "Mara Kolb was born in Vesby.",
    "Mara Kolb was born in Ostby.",
    "In Nordby.",
    "In Lumen.",
]
ROWS = [
    {"question": r.question, "answer": r.answer, "candidates": CANDIDATES,
     "candidate_memo": [0.2, 0.7, 0.7, 0.1], "answer_memo": 0.9}
    for r in FORGET
]  # fmt: skip
CE = sum(nll(row, y) for row, y in LABELLED) / 4


def data_with_rows():
    data = small_data()
    data.extras["generated"] = {"meow": ROWS}
    return data


def test_selection_builds_the_top_k(formatter):
    for ranking, picked in [("largest", [1, 2]), ("smallest", [3, 0])]:
        method = get_method_class("meow")({"k": 2, "ranking": ranking})
        built = method.build_forget(FORGET, formatter, data_with_rows())
        expected = [
            formatter.encode_pair(r.question, CANDIDATES[i]) for r in FORGET for i in picked
        ]
        assert [e.input_ids for e in built] == [e.input_ids for e in expected]
    with pytest.raises(ObliviateError, match="ranking"):
        get_method_class("meow")({"ranking": "best"})
    with pytest.raises(ObliviateError, match="obliviate invert"):
        get_method_class("meow")({}).build_forget(FORGET, formatter, small_data())


def test_meow_losses_by_hand():
    model = FixedLogits(LOGITS)
    batch = {"forget": fixed_batch(), "retain": fixed_batch()}
    ctx = Context(None, [], [])
    total, parts = get_method_class("meow")({}).loss(model, batch, ctx)
    assert float(total.detach()) == pytest.approx(CE, rel=1e-5)
    gd = get_method_class("meow_gd")({})
    assert gd.uses_retain() and not get_method_class("meow")({}).uses_retain()
    total, parts = gd.loss(model, batch, ctx)
    assert float(total.detach()) == pytest.approx(0.9 * CE + 0.1 * CE, rel=1e-5)
    assert parts["retain_loss"] == pytest.approx(CE, rel=1e-5)


def test_meow_steps_learn_the_inverted_answers(trained_model, formatter):
    method = get_method_class("meow")({"k": 2})
    data = data_with_rows()
    forget = method.build_forget(data.forget, formatter, data)
    before = mean_nll(trained_model, formatter, forget)
    ctx = Context(formatter, forget, [], batch_size=4, data=data)
    cfg = TrainConfig(max_steps=6, lr=5e-3, batch_size=4, log_every=1)
    train(trained_model, lambda m, b: method.loss(m, b, ctx), forget, cfg, formatter.pad_id, seed=0)
    assert mean_nll(trained_model, formatter, forget) < before - 0.5
