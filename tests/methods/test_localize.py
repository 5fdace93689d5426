"""MemFlex localisation (SPEC 4.1): corruption, mean gradients, and the threshold selection on
a constructed case whose cosines and magnitudes are known by hand."""

from __future__ import annotations

import math
import random

import pytest
import torch

from obliviate.formatting import IGNORE_INDEX
from obliviate.methods.base import forward_logits
from obliviate.methods.localize import (
    LocalizeParams,
    corrupt,
    localize,
    mean_gradients,
    select_region,
    tensor_stats,
)
from obliviate.methods.losses import sequence_nll
from obliviate.models.scope import named_parameters
from obliviate.models.tiny import build_tiny_model


def _t(*values: float) -> torch.Tensor:
    return torch.tensor(values)


def test_selection_on_constructed_gradients():
    s = math.sqrt(1 - 0.91**2)
    g_forget = {
        "same_direction": _t(2e-3, 0, 0, 0),  # cos 1 -> kept out by μ
        "too_small": _t(1e-3, 1e-3, 0, 0),  # cos 0 but mean|g| = 5e-4 <= σ
        "orthogonal": _t(1e-3, 1e-3, 1e-3, 1e-3),  # cos 0, mean 1e-3 -> selected
        "cos_0.91": _t(4e-3, 0, 0, 0),  # cos 0.91 < 0.92, mean 1e-3 -> selected
        "cos_0.93": _t(4e-3, 0, 0, 0),  # cos 0.93 >= 0.92 -> not selected
        "retain_zero": _t(0, 8e-3, 0, 0),  # zero retain gradient: cos 0, mean 2e-3 -> selected
        "forget_zero": _t(0, 0, 0, 0),  # a fresh LoRA's A: mean 0 -> never selected
        "opposite": _t(-3e-3, -3e-3, 0, 0),  # cos -1, mean 1.5e-3 -> selected
    }
    g_retain = {
        "same_direction": _t(5, 0, 0, 0),
        "too_small": _t(-1, 1, 0, 0),
        "orthogonal": _t(1, -1, 1, -1),
        "cos_0.91": _t(0.91, s, 0, 0),
        "cos_0.93": _t(0.93, math.sqrt(1 - 0.93**2), 0, 0),
        "retain_zero": _t(0, 0, 0, 0),
        "forget_zero": _t(1, 1, 1, 1),
        "opposite": _t(1, 1, 0, 0),
    }
    stats = tensor_stats(g_forget, g_retain)
    expected_cos = {"same_direction": 1.0, "too_small": 0.0, "orthogonal": 0.0, "cos_0.91": 0.91,
                    "cos_0.93": 0.93, "retain_zero": 0.0, "forget_zero": 0.0, "opposite": -1.0}  # fmt: skip
    expected_mag = {"same_direction": 5e-4, "too_small": 5e-4, "orthogonal": 1e-3,
                    "cos_0.91": 1e-3, "cos_0.93": 1e-3, "retain_zero": 2e-3, "forget_zero": 0.0,
                    "opposite": 1.5e-3}  # fmt: skip
    for name, st in stats.items():
        assert st["cos"] == pytest.approx(expected_cos[name], abs=1e-6), name
        assert st["grad_mean_abs"] == pytest.approx(expected_mag[name], rel=1e-6), name
    assert select_region(stats, 0.92, 6e-4) == ["orthogonal", "cos_0.91", "retain_zero", "opposite"]
    # the thresholds are the knobs: μ = 0.95 admits cos 0.93; σ = 1.2e-3 leaves the two largest
    assert "cos_0.93" in select_region(stats, 0.95, 6e-4)
    assert select_region(stats, 0.92, 1.2e-3) == ["retain_zero", "opposite"]


def test_corrupt_replaces_only_answer_tokens(formatter):
    enc = formatter.encode_pair("Where does Jon Berg work?", "Jon Berg works at Lumen Works.")
    answer = [i for i, lab in enumerate(enc.labels) if lab != IGNORE_INDEX][:-1]  # EOS excluded
    special = set(formatter.tok.all_special_ids)
    vocab = len(formatter.tok)
    out = corrupt(enc, random.Random(42), vocab, special, formatter.eos_id)
    changed = [i for i, (a, b) in enumerate(zip(enc.input_ids, out.input_ids)) if a != b]
    assert changed and set(changed) <= set(answer)
    assert len(changed) <= len(answer) // 2  # ⌊n/2⌋ draws with replacement
    assert out.input_ids[-1] == formatter.eos_id and out.labels[-1] == formatter.eos_id
    for i, (x, lab) in enumerate(zip(out.input_ids, out.labels)):
        if i in answer:
            assert lab == x and x not in special  # labels follow the corrupted inputs
        else:
            assert lab == enc.labels[i]
    assert corrupt(enc, random.Random(42), vocab, special, formatter.eos_id) == out


def test_mean_gradients_equal_the_per_item_loop(tokenizer, formatter):
    model = build_tiny_model(tokenizer, "nano", seed=0)
    items = [formatter.encode_pair(q, a) for q, a in [
        ("Where was Mara Kolb born?", "Mara Kolb was born in Oslo."),
        ("What is the capital of Norland?", "The capital of Norland is Vesby."),
        ("What does Jon Berg do?", "Jon Berg works as a carpenter."),
    ]]  # fmt: skip
    batched = mean_gradients(model, items, formatter.pad_id, batch_size=2)
    assert all(p.grad is None for p in model.parameters())  # .grad untouched
    from obliviate.formatting import collate_right

    model.eval()
    for e in items:  # KUD: bs 1, backward of each item's mean NLL, then divide by N
        b = collate_right([e], formatter.pad_id)
        sequence_nll(forward_logits(model, b), b["labels"]).backward()
    for name, p in named_parameters(model):
        torch.testing.assert_close(batched[name], p.grad / len(items), atol=1e-6, rtol=1e-4)


def test_localize_selects_by_the_stats_it_reports(tokenizer, formatter):
    model = build_tiny_model(tokenizer, "nano", seed=0)
    for name, p in model.named_parameters():
        p.requires_grad_("layers.1." in name)  # candidates = the trainable tensors
    forget = [formatter.encode_pair("Where was Mara Kolb born?", "Mara Kolb was born in Oslo.")]
    retain = [formatter.encode_pair("What does Jon Berg do?", "Jon Berg works as a carpenter.")]
    params = LocalizeParams(sim_thresh=0.5, grad_thresh=1e-4, num_copies=2)
    region = localize(model, forget, retain, formatter, params)
    assert set(region.stats) == {n for n, p in model.named_parameters() if p.requires_grad}
    assert (region.n_forget, region.n_retain) == (2, 2)
    assert region.names == select_region(region.stats, 0.5, 1e-4)
    assert region.names  # the constructed thresholds select something on this model
    assert region.to_json()["region"] == region.names
