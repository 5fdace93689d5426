"""memflex / memflex_iterative: the weighted loss against a hand computation, the interleaved
stream, training confined to the region, and the per-step region applied to the parameters."""

from __future__ import annotations

import json

import pytest
import torch
from unlearn_helpers import (
    LABELLED,
    LOGITS,
    FixedLogits,
    fixed_batch,
    forget_nll,
    nll,
    run_method,
    small_data,
)

from obliviate.config import TrainConfig
from obliviate.errors import ObliviateError
from obliviate.methods import Context, get_method_class
from obliviate.methods.base import forward_logits
from obliviate.methods.localize import select_region, tensor_stats
from obliviate.methods.losses import sequence_nll
from obliviate.models.scope import named_parameters
from obliviate.training import collate_examples, train

REGION = ["model.layers.0.mlp.down_proj.weight", "model.layers.1.self_attn.o_proj.weight"]


def test_memflex_loss_weights_each_item(formatter):
    method = get_method_class("memflex")()
    method.factors = torch.tensor([-0.4, 2.0])  # item 0 is a forget item, item 1 a retain item
    loss, parts = method.loss(
        FixedLogits(LOGITS), {"forget": fixed_batch()}, Context(formatter, [], [])
    )
    mean0 = sum(nll(r, y) for r, y in LABELLED[:3]) / 3  # NLL_mean of sequence 0
    mean1 = nll(*LABELLED[3])  # sequence 1 has one labelled token
    assert float(loss.detach()) == pytest.approx((-0.4 * mean0 + 2.0 * mean1) / 2, abs=1e-6)
    assert parts == pytest.approx({"forget_nll": mean0, "retain_nll": mean1}, abs=1e-6)


def test_memflex_interleaves_forget_and_retain(formatter):
    data = small_data()
    method = get_method_class("memflex")()
    items = method.build_forget(data.forget, formatter, data)
    assert len(items) == 2 * len(data.forget)
    assert method.factors.tolist() == pytest.approx([-0.4, 2.0] * len(data.forget))
    assert items[0::2] == [formatter.encode_record(r) for r in data.forget]
    retain = [formatter.encode_record(r) for r in data.retain]
    assert sorted(map(retain.index, items[1::2])) == [0, 1, 2, 3]  # the whole retain set


def _write_region(tmp_path, names) -> str:
    path = tmp_path / "region.json"
    path.write_text(json.dumps({"region": names}))
    return str(path)


def test_memflex_trains_only_the_region(trained_model, formatter, tmp_path):
    before = {n: p.detach().clone() for n, p in named_parameters(trained_model)}
    nll_before = forget_nll(trained_model, formatter)
    method = get_method_class("memflex")({"region_file": _write_region(tmp_path, REGION)})
    run_method(method, trained_model, formatter, steps=4, lr=2e-2)
    for name, p in named_parameters(trained_model):
        assert p.requires_grad == (name in REGION)
        assert torch.equal(p.detach(), before[name]) == (name not in REGION), name
    assert forget_nll(trained_model, formatter) > nll_before


def test_memflex_rejects_a_region_outside_the_scope(trained_model, formatter, tmp_path):
    for name, p in trained_model.named_parameters():
        p.requires_grad_("layers.1." in name)  # a layers scope that excludes REGION[0]
    method = get_method_class("memflex")({"region_file": _write_region(tmp_path, REGION)})
    with pytest.raises(ObliviateError, match="frozen under unlearn.scope"):
        method.prepare(trained_model, Context(formatter, [], []))


def _iterative_ctx(method, formatter):
    data = small_data()
    forget = method.build_forget(data.forget, formatter, data)
    retain = method.build_retain(data.retain, formatter, data)
    return Context(formatter, forget, retain, None, batch_size=4, data=data), forget, retain


def test_iterative_loss_and_region_of_one_step(trained_model, formatter):
    data = small_data()
    fb = collate_examples([formatter.encode_record(r) for r in data.forget], formatter.pad_id)
    rb = collate_examples([formatter.encode_record(r) for r in data.retain], formatter.pad_id)
    fb["index"] = torch.arange(len(data.forget))
    # the region from independent diagnostic gradients of L_f = CE(forget) and R = CE(retain)
    lf = sequence_nll(forward_logits(trained_model, fb), fb["labels"])
    r = sequence_nll(forward_logits(trained_model, rb), rb["labels"])
    params = named_parameters(trained_model)
    names, tensors = [n for n, _ in params], [p for _, p in params]
    g_f = dict(zip(names, torch.autograd.grad(lf, tensors, retain_graph=True)))
    g_r = dict(zip(names, torch.autograd.grad(r, tensors)))
    stats = tensor_stats(g_f, g_r)
    sigma = float(torch.tensor([s["grad_mean_abs"] for s in stats.values()]).median())
    expected = set(select_region(stats, 0.5, sigma))
    assert 0 < len(expected) < len(params)

    method = get_method_class("memflex_iterative")({"sim_thresh": 0.5, "grad_thresh": sigma})
    ctx, _, _ = _iterative_ctx(method, formatter)
    method.prepare(trained_model, ctx)
    total, parts = method.loss(trained_model, {"forget": fb, "retain": rb}, ctx)
    # hand: L = -0.4 * CE_batch(forget) + 2.0 * CE_batch(retain)
    assert float(total.detach()) == pytest.approx(float((-0.4 * lf + 2.0 * r).detach()), abs=1e-5)
    assert parts["forget_loss"] == pytest.approx(float(lf.detach()), abs=1e-5)
    assert all(p.grad is None for p in tensors)  # the diagnostic passes left .grad alone
    total.backward()
    method.before_step(trained_model, ctx)
    assert {n for n, p in params if p.grad is not None} == expected


@pytest.mark.parametrize(("sim_thresh", "moves"), [(-2.0, False), (2.0, True)])
def test_iterative_region_holds_under_adamw_weight_decay(
    trained_model, formatter, sim_thresh, moves
):
    """cos < −2 never holds: no tensor is in the region, so nothing may move, not even by AdamW's
    weight decay; cos < 2 always holds: every tensor with gradient moves."""
    method = get_method_class("memflex_iterative")({"sim_thresh": sim_thresh, "grad_thresh": 0.0})
    ctx, forget, retain = _iterative_ctx(method, formatter)
    method.prepare(trained_model, ctx)
    before = {n: p.detach().clone() for n, p in named_parameters(trained_model)}
    cfg = TrainConfig(max_steps=3, lr=1e-2, batch_size=4, weight_decay=0.1, log_every=100)
    train(trained_model, lambda m, b: method.loss(m, b, ctx), forget, cfg, formatter.pad_id,
          seed=0, retain=retain, before_step=lambda m: method.before_step(m, ctx))  # fmt: skip
    same = [torch.equal(p.detach(), before[n]) for n, p in named_parameters(trained_model)]
    assert (not any(same)) if moves else all(same)
