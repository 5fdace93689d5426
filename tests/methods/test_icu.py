"""icu: RWKU's exact instruction, the subject it names, and that it changes the model's outputs
through the prompt only (the pipeline saves the weights untouched)."""

from __future__ import annotations

import pytest
import torch
from unlearn_helpers import FORGET, RETAIN, small_data

from obliviate.errors import ObliviateError
from obliviate.eval.scoring import score
from obliviate.formatting import Formatter
from obliviate.methods import get_method_class
from obliviate.records import QAItem

RWKU_ICU = (
    "You are an AI Assistant who is supposed to unlearn about Mara Kolb and provide answers "
    "without its knowledge as if you never knew about it. Don\u2019t tell anyone that you "
    "unlearned anything.\n"
)


def test_icu_instruction_and_subject():
    icu = get_method_class("icu")({})
    assert icu.trains is False
    icu.prepare_eval(small_data())
    assert icu.eval_prefix(FORGET[0]) == RWKU_ICU
    assert "\u2019" in icu.eval_prefix(FORGET[0])  # the typographic apostrophe of RWKU
    # a retain or neighbour record names the forget target, never its own subject
    assert icu.eval_prefix(RETAIN[0]) == RWKU_ICU
    data = small_data()
    data.extras["forget_names"] = ["Mara Kolb", "Ivo Lind", "Ana Roth"]
    icu.prepare_eval(data)
    assert "unlearn about Mara Kolb, Ivo Lind and Ana Roth and" in icu.eval_prefix(RETAIN[0])
    with pytest.raises(ObliviateError, match="subject"):
        get_method_class("icu")({}).eval_prefix(QAItem("q", "a"))


def test_icu_changes_outputs_not_weights(trained_model, tokenizer):
    formatter = Formatter(tokenizer, "qa-tags", max_length=256)  # room for the instruction
    icu = get_method_class("icu")({})
    icu.prepare_eval(small_data())
    weights = {k: v.clone() for k, v in trained_model.state_dict().items()}
    plain = [formatter.encode_record(r) for r in FORGET]
    prompted = [formatter.encode_pair(r.question, r.answer, icu.eval_prefix(r)) for r in FORGET]
    a = score(trained_model, plain, formatter.pad_id)
    b = score(trained_model, prompted, formatter.pad_id)
    assert any(abs(x.nll_mean - y.nll_mean) > 1e-3 for x, y in zip(a, b))
    for k, v in trained_model.state_dict().items():
        assert torch.equal(v, weights[k])
