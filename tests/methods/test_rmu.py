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


def _ou_compute_activation_loss(a1: torch.Tensor, a2: torch.Tensor, mask: torch.Tensor):
    """A transcription of open-unlearning ``src/trainer/unlearn/rmu.py``
    ``RMU.compute_activation_loss`` (commit afcd6b6): per-position MSE, masked, mean over d, sum
    over the sequence, divided by ``num_tokens`` of shape [B, 1] (which broadcasts), mean."""
    squared = torch.nn.functional.mse_loss(a1, a2, reduction="none")
    summed = (squared * mask.unsqueeze(-1).expand_as(squared)).mean(dim=2).sum(dim=1)
    return (summed / mask.sum(dim=-1, keepdim=True)).mean()


def test_activation_mse_ou_reduction_matches_open_unlearning():
    gen = torch.Generator().manual_seed(0)
    h, target = torch.randn(3, 5, 4, generator=gen), torch.randn(3, 5, 4, generator=gen)
    mask = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1]], dtype=torch.bool)
    ou = _ou_compute_activation_loss(h, target, mask)
    assert float(activation_mse(h, target, mask, "ou")) == pytest.approx(float(ou), rel=1e-6)
    # unequal answer lengths: OU's number is not the formula's
    per_item = float(activation_mse(h, target, mask))
    assert abs(per_item - float(ou)) > 1e-2
    # equal lengths: both reductions agree
    full = torch.ones(3, 5, dtype=torch.bool)
    assert float(activation_mse(h, target, full, "ou")) == pytest.approx(
        float(activation_mse(h, target, full)), rel=1e-6
    )


def test_rmu_rejects_an_unknown_reduction():
    with pytest.raises(ObliviateError, match="reduction='mean' is unknown for method 'rmu'; "
                       "accepted: per_item, ou"):  # fmt: skip
        get_method_class("rmu")({"reduction": "mean"})


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
