"""relearn*: the losses by hand, the training data built from generated rows, and a few steps
learning the vague answers; relearn_dpo at the reference point by hand."""

from __future__ import annotations

import math

import pytest
import torch
from unlearn_helpers import (
    FORGET,
    LABELLED,
    LOGITS,
    FixedLogits,
    fixed_batch,
    mean_nll,
    nll,
    small_data,
    softmax,
)

from obliviate.config import TrainConfig
from obliviate.errors import ObliviateError
from obliviate.formatting import IGNORE_INDEX, Formatter
from obliviate.methods import Context, get_method_class
from obliviate.models.reference import FrozenCopy
from obliviate.training import collate_examples, train

VAGUE = "Those details about Mara Kolb are private and not shared publicly."
ROWS = [
    {"question": r.question, "answer": r.answer, "subject": r.subject,
     "questions": [r.question, f"Tell me: {r.question}"], "vague": [VAGUE, VAGUE if i % 2 else None]}
    for i, r in enumerate(FORGET)
]  # fmt: skip
CE = sum(nll(row, y) for row, y in LABELLED) / 4  # batch token mean over the 4 labelled positions
# KL_t(p_ref ‖ p_θ) with reference logits = LOGITS / 2, averaged over the labelled positions
KL = (
    sum(
        sum(
            r * (math.log(r) - math.log(p))
            for r, p in zip(softmax([v / 2 for v in row]), softmax(row))
        )
        for row, _ in LABELLED
    )
    / 4
)


def data_with_rows():
    data = small_data()
    data.extras["generated"] = {"relearn": ROWS}
    return data


def test_relearn_losses_by_hand():
    model = FixedLogits(LOGITS)
    ctx = Context(None, [], [], FrozenCopy(FixedLogits(LOGITS / 2)))
    batch = {"forget": fixed_batch(), "retain": fixed_batch()}
    params = {"gamma": 2.0, "alpha": 0.5}
    expected = {
        "relearn": 2 * CE,
        "relearn_gdr": 2 * CE + 0.5 * CE,
        "relearn_klr": 2 * CE + 0.5 * KL,
        "relearn_klr_gdr": 2 * CE + 0.5 * (KL + CE),
    }
    for name, value in expected.items():
        method = get_method_class(name)(params)
        assert method.uses_retain() == (name != "relearn")
        assert method.needs_reference_model() == ("klr" in name)
        total, parts = method.loss(model, batch, ctx)
        assert float(total.detach()) == pytest.approx(value, rel=1e-5), name
        assert parts["forget_loss"] == pytest.approx(CE, rel=1e-5)
    assert KL > 0.01


def test_training_data_from_generated_rows(formatter):
    method = get_method_class("relearn")({"seed": 3})
    built = method.build_forget(FORGET, formatter, data_with_rows())
    pairs = 4 + 2  # every original question has a vague answer, every other variant too
    words = len(VAGUE.split(" "))
    assert len(built) == 2 * pairs  # + one completion item per pair (11 words -> 2 + 9)
    raw = Formatter(formatter.tok, "kud-plain", formatter.max_length)
    cut = words // 4
    completion = raw.encode_pair(
        " ".join(VAGUE.split(" ")[:cut]), " " + " ".join(VAGUE.split(" ")[cut:])
    )
    assert sum(e.input_ids == completion.input_ids for e in built) == pairs
    for e in built:  # no original answer is learned by default
        assert all(e.input_ids != formatter.encode_record(r).input_ids for r in FORGET)
    with_original = get_method_class("relearn")({"include_original": True, "completion": False})
    assert len(with_original.build_forget(FORGET, formatter, data_with_rows())) == pairs + 4
    with pytest.raises(ObliviateError, match="obliviate augment"):
        method.build_forget(FORGET, formatter, small_data())


def test_relearn_steps_learn_the_vague_answers(trained_model, formatter):
    method = get_method_class("relearn_klr_gdr")({})
    data = data_with_rows()
    forget = method.build_forget(data.forget, formatter, data)
    retain = method.build_retain(data.retain, formatter, data)
    vague = [formatter.encode_pair(r.question, VAGUE) for r in FORGET]
    before = mean_nll(trained_model, formatter, vague)
    ctx = Context(formatter, forget, retain, FrozenCopy(trained_model), batch_size=4, data=data)
    cfg = TrainConfig(max_steps=6, lr=5e-3, batch_size=4, log_every=1)
    result = train(trained_model, lambda m, b: method.loss(m, b, ctx), forget, cfg,
                   formatter.pad_id, seed=0, retain=retain)  # fmt: skip
    assert mean_nll(trained_model, formatter, vague) < before - 0.5
    first = result.log[0]  # θ = π_ref at the first step: KL_R = 0
    assert first["retain_kl"] == pytest.approx(0.0, abs=1e-6)
    for entry in result.log:  # L = γ·CE(F_aug) + α·CE(D_r) + α·KL_R, γ = α = 1
        total = entry["forget_loss"] + entry["retain_nll"] + entry["retain_kl"]
        assert entry["loss"] == pytest.approx(total)


def test_relearn_dpo_at_the_reference_point_by_hand(trained_model, formatter):
    method = get_method_class("relearn_dpo")({"beta": 0.1})
    assert not method.uses_retain()
    data = data_with_rows()
    forget = method.build_forget(data.forget, formatter, data)
    assert len(forget) == 6
    first = forget[0]
    assert first["chosen"].input_ids == formatter.encode_pair(FORGET[0].question, VAGUE).input_ids
    assert first["rejected"].input_ids == formatter.encode_record(FORGET[0]).input_ids
    ctx = Context(formatter, forget, [], None, batch_size=4, data=data)
    method.prepare(trained_model, ctx)
    batch = {"forget": {**collate_examples(forget[:3], formatter.pad_id), "index": torch.arange(3)}}
    total, _ = method.loss(trained_model, batch, ctx)
    # the model is its own reference: Δ = 0, L = −(2/β)·log σ(0) = 20·ln 2
    assert float(total.detach()) == pytest.approx(20 * math.log(2), rel=1e-4)
    labels = batch["forget"]["chosen"]["labels"]
    assert (labels != IGNORE_INDEX).any()
    assert get_method_class("relearn_dpo_gdr")({}).uses_retain()
    assert get_method_class("relearn_dpo_klr")({}).needs_reference_model()
