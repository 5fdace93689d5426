"""SURE: the row-saliency mask against a hand computation, the base losses, and the mask held
on the PARAMETERS across AdamW steps (momentum and weight decay included)."""

from __future__ import annotations

import math

import pytest
import torch
from unlearn_helpers import forget_nll, run_method, small_data

from obliviate.config import TrainConfig
from obliviate.errors import ObliviateError
from obliviate.methods import Context, get_method_class
from obliviate.methods.base import forward_logits
from obliviate.methods.losses import sequence_nll
from obliviate.methods.sure import row_norms, saliency_masks
from obliviate.models.scope import named_parameters
from obliviate.training import collate_examples, train


def test_row_norms_and_percentile_mask():
    w = torch.tensor([[3.0, 4.0], [0.0, 1.0]])  # row norms 5, 1
    b = torch.tensor([2.0, -0.5])  # 1-D: |g| = 2, 0.5
    assert row_norms(w).tolist() == [5.0, 1.0]
    assert row_norms(b).tolist() == [2.0, 0.5]
    # all row norms {0.5, 1, 2, 5}; 50th percentile (linear) = (1 + 2) / 2 = 1.5
    assert [m.tolist() for m in saliency_masks([w, b], 50.0)] == [[True, False], [True, False]]
    # 99th: rank 0.99 * 3 = 2.97 -> 2 + 0.97 * (5 - 2) = 4.91: only the row of norm 5
    assert [m.tolist() for m in saliency_masks([w, b], 99.0)] == [[True, False], [False, False]]
    # ties at the threshold are kept (g >= γ)
    assert saliency_masks([torch.ones(3, 2)], 99.0)[0].tolist() == [True, True, True]


@pytest.mark.parametrize(("base", "retain_w"), [("ga", 0.0), ("gd", 1.0), ("gd", 0.5)])
def test_sure_base_losses(trained_model, formatter, base, retain_w):
    data = small_data()
    method = get_method_class("sure")({"base": base, "alpha": retain_w or 1.0})
    fb = collate_examples([formatter.encode_record(r) for r in data.forget], formatter.pad_id)
    rb = collate_examples([formatter.encode_record(r) for r in data.retain], formatter.pad_id)
    fb["index"] = torch.arange(len(data.forget))
    ctx = Context(formatter, [], [])
    method.prepare(trained_model, ctx)
    total, _ = method.loss(trained_model, {"forget": fb, "retain": rb}, ctx)
    with torch.no_grad():
        lf = sequence_nll(forward_logits(trained_model, fb), fb["labels"])
        r = sequence_nll(forward_logits(trained_model, rb), rb["labels"])
    assert float(total.detach()) == pytest.approx(float(-lf + retain_w * r), abs=1e-5)
    assert method.uses_retain() == (base != "ga")


def test_sure_rejects_unknown_base():
    with pytest.raises(ObliviateError, match="unlearn.params.base='gdr'.*npo_kl"):
        get_method_class("sure")({"base": "gdr"})


def _run_checked(method, model, formatter, restore: bool) -> tuple[int, int]:
    """AdamW (weight decay 0.1) steps; at each step, compare every row the mask removed with its
    value before the step. Returns (masked rows that moved, kept rows that moved)."""
    data = small_data()
    forget = method.build_forget(data.forget, formatter, data)
    retain = method.build_retain(data.retain, formatter, data)
    ctx = Context(formatter, forget, retain, None, batch_size=4, data=data)
    method.prepare(model, ctx)
    params = [p for _, p in named_parameters(model) if p.requires_grad]
    state: dict[str, list] = {}
    moved = {"masked": 0, "kept": 0}

    def before(m) -> None:
        # the expected mask, from the step's forget gradient, before the method applies it
        grads = list(method.g_forget.mean().values())
        state["masks"] = saliency_masks(grads, method.p.percentile)
        state["before"] = [p.detach().clone() for p in params]
        method.before_step(m, ctx)

    def after(step: int, parts: dict[str, float]) -> None:
        if restore:
            method.after_step(ctx, parts)
        for p, old, keep in zip(params, state["before"], state["masks"]):
            changed = (p.detach() != old).flatten(1).any(1) if p.dim() > 1 else p.detach() != old
            moved["masked"] += int(changed[~keep].sum())
            moved["kept"] += int(changed[keep].sum())

    cfg = TrainConfig(max_steps=4, lr=1e-2, batch_size=4, weight_decay=0.1, log_every=100)
    train(model, lambda m, b: method.loss(m, b, ctx), forget, cfg, formatter.pad_id, seed=0,
          retain=retain, before_step=before, after_step=after)  # fmt: skip
    return moved["masked"], moved["kept"]


def test_sure_mask_holds_on_the_parameters(trained_model, formatter):
    method = get_method_class("sure")({"base": "gd", "percentile": 90.0})
    masked_moved, kept_moved = _run_checked(method, trained_model, formatter, restore=True)
    assert masked_moved == 0
    assert kept_moved > 0


def test_gradient_mask_alone_lets_adamw_move_masked_rows(trained_model, formatter):
    """The control: without the restoration, AdamW's weight decay and momentum move rows whose
    gradient was zeroed (so the test above can fail)."""
    method = get_method_class("sure")({"base": "gd", "percentile": 90.0})
    masked_moved, _ = _run_checked(method, trained_model, formatter, restore=False)
    assert masked_moved > 0


def test_sure_npo_forgets(trained_model, formatter):
    before = forget_nll(trained_model, formatter)
    ctx, log = run_method(get_method_class("sure")({"base": "npo", "percentile": 90.0}),
                          trained_model, formatter, steps=4, lr=2e-2)  # fmt: skip
    assert ctx.ref_cache["forget_nll_sum"].shape == (4,)
    # rows with g ≥ the 90th percentile (linear interpolation) of all N row norms
    n = sum(p.shape[0] for _, p in named_parameters(trained_model) if p.requires_grad)
    assert log[-1]["kept_rows"] == pytest.approx((n - math.ceil(0.9 * (n - 1))) / n)
    assert forget_nll(trained_model, formatter) > before
