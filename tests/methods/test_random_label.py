"""random_label: the relabelling and the loss by hand; a few steps raise the true-answer NLL."""

from __future__ import annotations

import pytest
import torch
from unlearn_helpers import FORGET, forget_nll, nll, run_method, small_data

from obliviate.formatting import IGNORE_INDEX
from obliviate.methods import Context, get_method_class
from obliviate.methods.random_label import random_labels


def test_random_labels_only_relabel_answer_non_special_positions():
    labels = [IGNORE_INDEX, IGNORE_INDEX, 7, 8, 9, 2]  # prompt, answer 7 8 9, EOS (id 2)
    special = [0, 1, 2, 3]
    gen = torch.Generator().manual_seed(0)
    out = random_labels(labels, special, 12, gen)
    assert out[:2] == [IGNORE_INDEX, IGNORE_INDEX]
    assert out[-1] == 2  # EOS keeps its label
    assert all(4 <= y < 12 for y in out[2:5])
    # the draws are the seeded generator's: uniform indices into the 8 non-special ids 4..11
    expected = (torch.randint(8, (3,), generator=torch.Generator().manual_seed(0)) + 4).tolist()
    assert out[2:5] == expected


def test_random_label_loss_is_descent_on_the_new_labels(formatter, tokenizer):
    method = get_method_class("random_label")({"seed": 3})
    examples = method.build_forget(FORGET, formatter, small_data())
    gold = [formatter.encode_record(r) for r in FORGET]
    changed = sum(a != b for e, g in zip(examples, gold) for a, b in zip(e.labels, g.labels))
    assert changed > 0.8 * sum(g.n_labels - 1 for g in gold)  # all but EOS (rare same draws)
    # loss on fixed logits = CE_batch toward the (given) labels
    logits = torch.zeros(1, 3, 4)
    logits[0, 0] = torch.tensor([0.0, 1.0, 2.0, 3.0])
    logits[0, 1] = torch.tensor([1.0, 0.0, 0.0, 0.0])

    class Fixed(torch.nn.Module):
        def forward(self, input_ids=None, attention_mask=None):
            return type("O", (), {"logits": logits})()

    batch = {"forget": {"input_ids": torch.zeros(1, 3, dtype=torch.long),
                        "attention_mask": torch.ones(1, 3, dtype=torch.long),
                        "labels": torch.tensor([[IGNORE_INDEX, 1, 0]])}}  # fmt: skip
    loss, _ = method.loss(Fixed(), batch, Context(formatter, [], []))
    expected = (nll([0.0, 1.0, 2.0, 3.0], 1) + nll([1.0, 0.0, 0.0, 0.0], 0)) / 2
    assert float(loss) == pytest.approx(expected, abs=1e-5)


def test_random_label_raises_true_forget_nll(trained_model, formatter):
    before = forget_nll(trained_model, formatter)
    run_method(get_method_class("random_label")({}), trained_model, formatter, steps=4)
    assert forget_nll(trained_model, formatter) > before + 0.5
