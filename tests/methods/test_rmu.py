"""rmu: the activation loss by hand, the seeded control vector, and a few steps on a chosen
layer change only the chosen parameters and move forget activations toward c·u."""

from __future__ import annotations

import pytest
import torch
from unlearn_helpers import FORGET, forget_nll, run_method

from obliviate.errors import ObliviateError
from obliviate.formatting import collate_right
from obliviate.methods import get_method_class
from obliviate.methods.losses import activation_mse
from obliviate.methods.rmu import activations, find_module

PARAMS = {
    "module_regex": r"model\.layers\.1",
    "trainable_params_regex": r"model\.layers\.(0|1)\.mlp\.down_proj\.weight",
    "steering_coeff": 5.0,
}


def test_activation_mse_by_hand():
    h = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]], [[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]])
    target = torch.tensor([1.0, 0.0])
    mask = torch.tensor([[1, 1, 0], [0, 1, 1]], dtype=torch.bool)
    # seq 0: positions 0, 1: ((0 + 4)/2 + (4 + 16)/2) / 2 = 6; seq 1: positions 1, 2:
    # ((0 + 1)/2 + (1 + 0)/2) / 2 = 0.5; mean over the batch: 3.25
    assert float(activation_mse(h, target, mask)) == pytest.approx(3.25, abs=1e-6)


def test_find_module_errors_name_candidates(trained_model):
    with pytest.raises(ObliviateError, match="model.layers.0"):
        find_module(trained_model, r"model\.layers\.7")


def test_rmu_changes_only_chosen_params(trained_model, formatter):
    before = {k: v.clone() for k, v in trained_model.named_parameters()}
    method = get_method_class("rmu")(PARAMS)
    batch = collate_right([formatter.encode_record(r) for r in FORGET], formatter.pad_id)
    ctx, log = run_method(method, trained_model, formatter, steps=6, lr=1e-2)
    # u from the seeded generator, scaled to c
    r = torch.rand(trained_model.config.hidden_size, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(method.control, 5.0 * r / r.norm())
    chosen = {"model.layers.0.mlp.down_proj.weight", "model.layers.1.mlp.down_proj.weight"}
    for name, p in trained_model.named_parameters():
        assert p.requires_grad == (name in chosen)
        assert torch.equal(p, before[name]) == (name not in chosen), name
    assert log[-1]["forget_loss"] < log[0]["forget_loss"]
    with torch.no_grad():
        h = activations(trained_model, method.module, batch)
        h_ref = activations(ctx.reference.forward, method.ref_module, batch)
    mask = batch["labels"] != -100
    assert activation_mse(h, method.control, mask) < activation_mse(h_ref, method.control, mask)
    assert forget_nll(trained_model, formatter) > 0.0
