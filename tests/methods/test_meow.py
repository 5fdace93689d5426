"""meow / meow_gd / meow_forgetkl / meow_dpo: the selected training data, the losses by hand, a
few steps learning the inverted answers (or preferring them over the original ones)."""

from __future__ import annotations

import math

import pytest
import torch
import unlearn_helpers
from unlearn_helpers import (
    FORGET,
    LABELLED,
    LOGITS,
    FixedLogits,
    fixed_batch,
    logsig,
    mean_nll,
    nll,
    run_method,
    small_data,
    softmax,
)

from obliviate.config import TrainConfig
from obliviate.errors import ObliviateError
from obliviate.methods import Context, get_method_class
from obliviate.models.reference import FrozenCopy
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


def kl(p_row: list[float], q_row: list[float]) -> float:
    """KL(softmax(p_row) ‖ softmax(q_row)), by hand."""
    p, q = softmax(p_row), softmax(q_row)
    return sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q))


def test_meow_forgetkl_loss_by_hand():
    # the reference's rows at the four labelled positions (row 0: 0, 1, 2; row 1: 1)
    ref_rows = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [2.0, 2.0, 0.0]]
    ref = torch.full_like(LOGITS, 7.0)  # unlabelled positions: never read
    for (b, t), row in zip([(0, 0), (0, 1), (0, 2), (1, 1)], ref_rows):
        ref[b, t] = torch.tensor(row)
    ctx = Context(None, [], [], reference=FrozenCopy(FixedLogits(ref)))
    method = get_method_class("meow_forgetkl")({})
    assert method.needs_reference_model() and not method.uses_retain()
    total, parts = method.loss(FixedLogits(LOGITS), {"forget": fixed_batch()}, ctx)
    # KL_F = mean over the 4 labelled positions of KL(p_ref ‖ p_θ); L = CE + 1·KL_F
    kl_f = sum(kl(r, row) for r, (row, _) in zip(ref_rows, LABELLED)) / 4
    assert parts["inverted_kl"] == pytest.approx(kl_f, abs=1e-5)
    assert parts["inverted_ce"] == pytest.approx(CE, abs=1e-5)
    assert float(total.detach()) == pytest.approx(CE + kl_f, abs=1e-5)
    half = get_method_class("meow_forgetkl")({"kl_weight": 0.5, "gamma": 2.0})
    total, _ = half.loss(FixedLogits(LOGITS), {"forget": fixed_batch()}, ctx)
    assert float(total.detach()) == pytest.approx(2.0 * (CE + 0.5 * kl_f), abs=1e-5)


def test_meow_dpo_loss_by_hand():
    rejected_labels = torch.tensor([[-100, 1, 1, 0], [-100, 0, -100, -100]])
    # sequence-sum NLLs under LOGITS: chosen = LABELLED rows; rejected: row 0 predicts 1, 1, 0
    # from [2,0,0], [0,1,0], [0,0,3]; row 1 predicts 0 from [0,0,0]
    nll_w = [sum(nll(r, y) for r, y in LABELLED[:3]), nll(*LABELLED[3])]
    nll_l = [nll([2.0, 0.0, 0.0], 1) + nll([0.0, 1.0, 0.0], 1) + nll([0.0, 0.0, 3.0], 0),
             nll([0.0, 0.0, 0.0], 0)]  # fmt: skip
    ref_w, ref_l = [5.0, 1.0], [2.0, 1.5]
    ctx = Context(None, [], [])
    ctx.ref_cache = {"chosen_nll_sum": torch.tensor(ref_w), "rejected_nll_sum": torch.tensor(ref_l)}
    batch = {"forget": {"chosen": fixed_batch(), "rejected": fixed_batch(rejected_labels),
                        "index": torch.arange(2)}}  # fmt: skip
    total, parts = get_method_class("meow_dpo")({}).loss(FixedLogits(LOGITS), batch, ctx)
    beta = 0.1
    delta = [(ref_w[i] - nll_w[i]) - (ref_l[i] - nll_l[i]) for i in range(2)]
    expected = -(2 / beta) * (logsig(beta * delta[0]) + logsig(beta * delta[1])) / 2
    assert float(total.detach()) == pytest.approx(expected, abs=1e-5)
    assert parts["chosen_logratio"] == pytest.approx(
        (ref_w[0] - nll_w[0] + ref_w[1] - nll_w[1]) / 2, abs=1e-5
    )


def test_meow_dpo_pairs_the_selection_with_the_original_answer(formatter):
    built = get_method_class("meow_dpo")({"k": 2}).build_forget(FORGET, formatter, data_with_rows())
    assert len(built) == 2 * len(FORGET)
    for pair, (rec, i) in zip(built, [(r, i) for r in FORGET for i in (1, 2)]):
        assert (
            pair["chosen"].input_ids == formatter.encode_pair(rec.question, CANDIDATES[i]).input_ids
        )
        assert (
            pair["rejected"].input_ids == formatter.encode_pair(rec.question, rec.answer).input_ids
        )
    with pytest.raises(ObliviateError, match="ranking"):
        get_method_class("meow_dpo")({"ranking": "best"})


def test_meow_forgetkl_steps_learn_the_inverted_answers(trained_model, formatter, monkeypatch):
    monkeypatch.setattr(unlearn_helpers, "small_data", data_with_rows)
    method = get_method_class("meow_forgetkl")({"k": 2})
    forget = method.build_forget(FORGET, formatter, data_with_rows())
    before = mean_nll(trained_model, formatter, forget)
    ctx, log = run_method(method, trained_model, formatter, steps=6)
    assert isinstance(ctx.reference, FrozenCopy)
    assert mean_nll(trained_model, formatter, forget) < before - 0.5
    assert log[0]["inverted_kl"] == pytest.approx(0.0, abs=1e-5)  # θ = π_ref at the first step
    assert log[-1]["inverted_kl"] > 0.0


def test_meow_dpo_steps_prefer_the_inverted_answer(
    trained_model, formatter, tokenizer, monkeypatch
):
    from obliviate.models.tiny import build_tiny_model

    monkeypatch.setattr(unlearn_helpers, "small_data", data_with_rows)
    start = build_tiny_model(tokenizer, "nano", seed=0)
    start.load_state_dict(trained_model.state_dict())
    ctx, log = run_method(get_method_class("meow_dpo")({"k": 2}), trained_model, formatter, steps=4)
    chosen, rejected = [ex["chosen"] for ex in ctx.forget], [ex["rejected"] for ex in ctx.forget]

    def margin(
        model,
    ) -> float:  # mean NLL(original) − mean NLL(inverted): higher = inverted preferred
        return mean_nll(model, formatter, rejected) - mean_nll(model, formatter, chosen)

    assert margin(trained_model) > margin(start) + 0.5
    assert ctx.reference is None and ctx.ref_cache["chosen_nll_sum"].shape == (8,)
    assert log[-1]["chosen_logratio"] > log[-1]["rejected_logratio"]
