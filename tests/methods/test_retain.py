"""The shared retain term (SPEC 3.0): L_r kinds on fixed logits by hand, the combination
L = γ·L_f + α·L_r and its logged parts, and what every method built on ``RetainTerm`` declares
(retain data, a reference) with its default parameters."""

from __future__ import annotations

import math

import pytest
import torch
from unlearn_helpers import LABELLED, LOGITS, FixedLogits, fixed_batch, nll, softmax

from obliviate.methods import METHODS, Context, get_method_class
from obliviate.methods.retain import RetainTerm, combine, retain_losses
from obliviate.models.reference import FrozenCopy

CE = sum(nll(r, y) for r, y in LABELLED) / 4  # CE_batch of the fixed batch
# KL_t(uniform reference ‖ model), averaged over the 4 labelled positions
KL_UNIFORM = (
    sum(sum((1 / 3) * (math.log(1 / 3) - math.log(q)) for q in softmax(r)) for r, _ in LABELLED) / 4
)

# (uses_retain, needs_reference_model) of every RetainTerm method with default parameters
DECLARED = {
    "ga": (False, False), "gd": (True, False), "ga_kl": (True, True),
    "npo": (True, False), "npo_gd": (True, False), "npo_kl": (True, True),
    "simnpo": (True, False), "wga": (True, False), "satimp": (True, False),
    "undial": (False, True),  # α = 0: no retain forward; the teacher is the reference
    "dpo": (True, False), "altpo": (True, False), "meow_dpo": (False, False),
    "relearn_dpo": (False, False), "relearn_dpo_gdr": (True, False),
    "relearn_dpo_klr": (True, True),
    "rt": (False, False), "random_label": (False, False), "adversarial": (False, False),
    "meow": (False, False), "meow_gd": (True, False), "meow_forgetkl": (False, True),
    "relearn": (False, False), "relearn_gdr": (True, False), "relearn_klr": (True, True),
    "relearn_klr_gdr": (True, True),
    "memflex_iterative": (True, False), "sure": (True, False),
    "rmu": (True, True),  # embed_diff reads the reference's activations
}  # fmt: skip


def _ctx(formatter, reference_logits=None):
    ref = None if reference_logits is None else FrozenCopy(FixedLogits(reference_logits))
    return Context(formatter, [], [], ref)


def test_retain_losses_by_hand(formatter):
    model, batch = FixedLogits(LOGITS), {"retain": fixed_batch()}
    ctx = _ctx(formatter, torch.zeros_like(LOGITS))
    got = {k: v.detach() for k, v in retain_losses(("nll", "kl"), model, batch, ctx).items()}
    assert list(got) == ["nll", "kl"]
    assert float(got["nll"]) == pytest.approx(CE, abs=1e-5)
    assert float(got["kl"]) == pytest.approx(KL_UNIFORM, abs=1e-5)
    assert retain_losses((), model, {}, ctx) == {}  # no retain batch needed
    with pytest.raises(RuntimeError, match="needs a reference model"):
        retain_losses(("kl",), model, batch, _ctx(formatter))
    with pytest.raises(ValueError, match="accepted: nll, kl, none"):
        retain_losses(("embed_diff",), model, batch, ctx)


def test_combine_weights_and_parts():
    f, r1, r2 = torch.tensor(2.0), torch.tensor(0.5), torch.tensor(0.25)
    total, parts = combine(f, {}, 0.5, 3.0)
    assert (float(total), parts) == (1.0, {"forget_loss": 2.0})
    total, parts = combine(f, {"nll": r1}, 0.5, 3.0)
    assert (float(total), parts) == (2.5, {"forget_loss": 2.0, "retain_loss": 0.5})
    total, parts = combine(f, {"nll": r1, "kl": r2}, 0.5, 3.0)
    assert float(total) == 1.0 + 3.0 * 0.75
    assert parts == {"forget_loss": 2.0, "retain_nll": 0.5, "retain_kl": 0.25}


@pytest.mark.parametrize("name", sorted(n for n, c in METHODS.items() if issubclass(c, RetainTerm)))
def test_retain_term_declarations(name):
    cls = METHODS[name]
    method = cls({"epsilon": 0.3} if "epsilon" in cls.param_defaults() else {})
    assert (method.uses_retain(), method.needs_reference_model()) == DECLARED[name]


def test_every_gamma_alpha_method_is_a_retain_term():
    """A method with a retain weight or a retain loss gets them from ``RetainTerm``; pdu's
    retain term is a constraint with a dual variable, not α·L_r."""
    for name, cls in METHODS.items():
        keys = set(cls.param_defaults())
        if keys & {"alpha", "retain_loss"} and name != "pdu":
            assert issubclass(cls, RetainTerm), name
    assert set(DECLARED) == {n for n, c in METHODS.items() if issubclass(c, RetainTerm)}


@pytest.mark.parametrize(
    ("retain_loss", "alpha", "expected"),
    [("none", 1.0, 0.0), ("nll", 0.5, 0.5 * CE), ("kl", 2.0, 2.0 * KL_UNIFORM)],
)
def test_retain_loss_parameter_picks_the_term(formatter, retain_loss, alpha, expected):
    """simnpo, γ = 0 (L_f drops out): the total is exactly α·L_r of the chosen kind."""
    method = get_method_class("simnpo")({"gamma": 0.0, "alpha": alpha, "retain_loss": retain_loss})
    batch = {"forget": fixed_batch(), "retain": fixed_batch()}
    total, parts = method.loss(
        FixedLogits(LOGITS), batch, _ctx(formatter, torch.zeros_like(LOGITS))
    )
    assert float(total.detach()) == pytest.approx(expected, abs=1e-5)
    assert alpha * parts.get("retain_loss", 0.0) == pytest.approx(expected, abs=1e-5)
    assert ("retain_loss" in parts) == (retain_loss != "none")
