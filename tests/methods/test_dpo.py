"""dpo / altpo: the loss by hand on sequence sums, the pair data each variant builds, and a few
steps make the preferred answer more likely (and the forget answer less)."""

from __future__ import annotations

import pytest
import torch
from unlearn_helpers import FORGET, forget_nll, logsig, mean_nll, run_method, small_data

from obliviate.errors import ObliviateError
from obliviate.methods import get_method_class
from obliviate.methods.altpo import ALTPO_PREFILL, altpo_prompt
from obliviate.methods.losses import dpo_loss
from obliviate.records import QAItem
from obliviate.refusals import IDK_ANSWERS


def test_dpo_loss_by_hand():
    nll_w, nll_l = torch.tensor([4.0, 2.0]), torch.tensor([1.0, 3.0])
    ref_w, ref_l = torch.tensor([5.0, 2.5]), torch.tensor([1.5, 2.0])
    beta = 0.1
    # Δ_i = (ref_w − nll_w) − (ref_l − nll_l): (1 − 0.5) = 0.5 and (0.5 − (−1)) = 1.5
    expected = -(2 / beta) * (logsig(beta * 0.5) + logsig(beta * 1.5)) / 2
    assert float(dpo_loss(nll_w, nll_l, ref_w, ref_l, beta)) == pytest.approx(expected, abs=1e-5)
    standard = -(logsig(beta * 0.5) + logsig(beta * 1.5)) / 2  # RWKU / TRL: no 2/β
    got = dpo_loss(nll_w, nll_l, ref_w, ref_l, beta, two_over_beta=False)
    assert float(got) == pytest.approx(standard, abs=1e-5)


def test_dpo_pairs_idk_counterfactual_and_benchmark_pairs(formatter):
    data = small_data()
    idk = get_method_class("dpo")({}).build_forget(FORGET, formatter, data)
    for ex, rec in zip(idk, FORGET):
        assert ex["rejected"].input_ids == formatter.encode_record(rec).input_ids
        options = [formatter.encode_pair(rec.question, line).input_ids for line in IDK_ANSWERS]
        assert ex["chosen"].input_ids in options
    cf = get_method_class("dpo")({"preferred": "counterfactual"}).build_forget(
        FORGET, formatter, data
    )
    assert (
        cf[0]["chosen"].input_ids
        == formatter.encode_pair(FORGET[0].question, FORGET[0].perturbed_answers[0]).input_ids
    )
    # RWKU-style pairs in extras win over the forget records
    data.extras["pairs"] = [QAItem("Write a bio of X.", "real bio", meta={"preferred": "fake bio"})]
    built = get_method_class("dpo")({"preferred": "counterfactual"}).build_forget(
        FORGET, formatter, data
    )
    assert len(built) == 1
    assert (
        built[0]["chosen"].input_ids
        == formatter.encode_pair("Write a bio of X.", "fake bio").input_ids
    )
    # no pairs and no perturbed answers: a clear error
    bare = [QAItem("Q?", "A.")]
    with pytest.raises(ObliviateError, match="counterfactual"):
        get_method_class("dpo")({"preferred": "counterfactual"}).build_forget(
            bare, formatter, small_data()
        )
    with pytest.raises(ObliviateError, match="preferred"):
        get_method_class("dpo")({"preferred": "maybe"})


@pytest.mark.parametrize("preferred", ["idk", "counterfactual"])
def test_dpo_makes_preferred_answer_more_likely(preferred, trained_model, formatter, tokenizer):
    from obliviate.models.tiny import build_tiny_model

    start = build_tiny_model(tokenizer, "nano", seed=0)
    start.load_state_dict(trained_model.state_dict())
    method = get_method_class("dpo")({"preferred": preferred})
    ctx, log = run_method(method, trained_model, formatter, steps=4)
    chosen = [ex["chosen"] for ex in ctx.forget]
    assert mean_nll(trained_model, formatter, chosen) < mean_nll(start, formatter, chosen) - 0.5
    assert forget_nll(trained_model, formatter) > forget_nll(start, formatter)
    # the reference log-probs were cached once, no model copy kept
    assert ctx.reference is None and ctx.ref_cache["chosen_nll_sum"].shape == (4,)
    assert log[-1]["chosen_logratio"] > 0 > log[-1]["rejected_logratio"]


def test_altpo_generates_alternates_and_prefers_them(trained_model, formatter, tokenizer):
    from obliviate.models.tiny import build_tiny_model

    prompt = altpo_prompt(formatter, "Q?", "A.", instruction=False)
    assert formatter.tok.decode(prompt).endswith(ALTPO_PREFILL)
    start = build_tiny_model(tokenizer, "nano", seed=0)
    start.load_state_dict(trained_model.state_dict())
    method = get_method_class("altpo")({"instruction": False, "max_new_tokens": 8})
    ctx, _ = run_method(method, trained_model, formatter, steps=4)
    # SPEC 5.4: 5 sampled alternates per item, each its own pair, grouped by item
    assert len(method.alternates) == len(ctx.forget) == 5 * len(FORGET)
    assert any(method.alternates)
    items = [rec for rec in FORGET for _ in range(5)]
    for ex, rec, alt in zip(ctx.forget, items, method.alternates):
        assert ex["chosen"].input_ids == formatter.encode_pair(rec.question, alt).input_ids
        assert ex["rejected"].input_ids == formatter.encode_record(rec).input_ids
    chosen = [ex["chosen"] for ex in ctx.forget]
    assert mean_nll(trained_model, formatter, chosen) < mean_nll(start, formatter, chosen)


def test_altpo_sampling_is_seeded_and_greedy_gives_one(trained_model, formatter):
    from obliviate.methods.base import Context

    def alternates(params: dict) -> list[str]:
        method = get_method_class("altpo")({"instruction": False, "max_new_tokens": 6, **params})
        forget = method.build_forget(FORGET, formatter, None)
        method.prepare(trained_model, Context(formatter, forget, [], batch_size=8))
        return method.alternates

    sampled = alternates({"num_alternates": 3})
    assert len(sampled) == 3 * len(FORGET) and sampled == alternates({"num_alternates": 3})
    assert sampled != alternates({"num_alternates": 3, "seed": 7})
    assert len(alternates({"temperature": 0.0})) == len(FORGET)
