"""adversarial: labels from one batched pass with the gold token excluded (by hand), and a few
steps raise the true-answer NLL."""

from __future__ import annotations

from unlearn_helpers import FORGET, LABELS, LOGITS, forget_nll, run_method

from obliviate.formatting import IGNORE_INDEX
from obliviate.methods import get_method_class
from obliviate.methods.adversarial import adversarial_labels
from obliviate.models.tiny import build_tiny_model


def test_adversarial_labels_by_hand():
    out = adversarial_labels(LOGITS, LABELS, exclude_ids=[])
    # seq 0: rows [2,0,0] gold 0 -> {1: 0, 2: 0} -> 1 (first max); [0,1,0] gold 1 -> 0;
    # [0,0,3] gold 2 -> 0. seq 1: row [1,2,3] gold 2 -> 1. Position 0 and unlabelled stay -100.
    assert out.tolist() == [[IGNORE_INDEX, 1, 0, 0], [IGNORE_INDEX, IGNORE_INDEX, 1, IGNORE_INDEX]]
    # excluded ids are never chosen: excluding 0 turns [0,1,0] gold 1 into 2
    out = adversarial_labels(LOGITS, LABELS, exclude_ids=[0])
    assert out[0].tolist() == [IGNORE_INDEX, 1, 2, 1]


def test_adversarial_relabels_every_answer_token_and_raises_nll(
    trained_model, formatter, tokenizer
):
    before = forget_nll(trained_model, formatter)
    calls = []

    def load(role):
        calls.append(role)
        return build_tiny_model(tokenizer, "nano", seed=1)

    ctx, _ = run_method(get_method_class("adversarial")({}), trained_model, formatter, steps=4,
                        load_model=load)  # fmt: skip
    assert calls == ["base"]  # the original (base) model is the adversary, loaded once
    gold = [formatter.encode_record(r) for r in FORGET]
    for enc, g in zip(ctx.forget, gold):
        assert enc.input_ids == g.input_ids
        for a, b in zip(enc.labels, g.labels):
            assert (a == IGNORE_INDEX) == (b == IGNORE_INDEX)
            assert a == IGNORE_INDEX or a != b
    assert forget_nll(trained_model, formatter) > before + 0.5


def test_adversary_target_uses_the_model_itself(trained_model, formatter):
    method = get_method_class("adversarial")({"adversary": "target"})
    ctx, _ = run_method(method, trained_model, formatter, steps=1)
    assert all(a != b for e, g in zip(ctx.forget, [formatter.encode_record(r) for r in FORGET])
               for a, b in zip(e.labels, g.labels) if b != IGNORE_INDEX)  # fmt: skip
