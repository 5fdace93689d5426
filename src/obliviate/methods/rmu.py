"""RMU: representation misdirection for unlearning (Li et al. 2024, "The WMDP Benchmark";
OU ``RMU``, after centerforaisafety/wmdp), SPEC 3.2.

A forward hook reads the output h of one module (``module_regex``, a decoder layer). On forget
inputs h is pushed to a fixed random direction, on retain inputs it is held at the frozen
reference's activation:

    L_f = mean_b (1/|M_b|) Σ_{t∈M_b} (1/d)‖h_θ(x_f)_t − c·u‖²,   u = r/‖r‖, r ~ U[0,1)^d
    L_r = the same MSE between h_θ(x_r) and h_ref(x_r)             (``retain_loss=embed_diff``)
    L   = γ·L_f + α·L_r                                            (``losses.activation_mse``)

M_b = labelled (answer) positions. ``reduction=ou`` reproduces open-unlearning's reduction,
mean_b(S_b)·mean_b(1/N_b) (a broadcasting slip in its ``compute_activation_loss``,
``src/trainer/unlearn/rmu.py``, commit d3d7cf9e; equal to the formula when all answers have the
same length), for matching OU's RMU numbers; ``per_item`` is the formula. Unless
``unlearn.params.reduction`` is given, ``eval.protocol`` picks it: ``paper`` / ``ou`` → ``ou``
(the reference code's number), ``fixed`` → ``per_item`` (README "Protocols"). u is sampled once in ``prepare`` from a generator seeded with
the run seed. Only parameters matching ``trainable_params_regex`` (within the run's scope) keep
``requires_grad``: the rest compute no gradient and stay bit-identical (OU computes gradients for
frozen parameters: SPEC 8 item 9). The forward stops at the hooked module, since later layers
cannot affect the loss. Regexes match a full module/parameter name, with any prefix allowed
(``model.layers.7`` also matches ``base_model.model.model.layers.7``).
Defaults: OU WMDP setting, hook ``model.layers.7``, trainable
``model.layers.(5|6|7).mlp.down_proj.weight``, c = 2 (OU class default 20; the WMDP paper 6.5
for Zephyr), γ = α = 1; OU TOFU cfg: hook layer 7, c = 2, every parameter trainable
(``trainable_params_regex=.*``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ObliviateError
from .base import Context, register
from .losses import ACTIVATION_REDUCTIONS, activation_mse
from .retain import RetainParams, RetainTerm

RMU_RETAIN = ("embed_diff", "nll", "kl", "none")


class _Stop(Exception):
    """Raised by the hook to end the forward pass once the activation is captured."""


def _matcher(regex: str) -> re.Pattern[str]:
    try:
        return re.compile(rf"(?:.*\.)?(?:{regex})")
    except re.error as exc:
        raise ObliviateError(f"rmu: invalid regex {regex!r}: {exc}") from None


def find_module(model: torch.nn.Module, regex: str) -> torch.nn.Module:
    """The single module whose full name matches ``regex`` (any prefix allowed)."""
    pat = _matcher(regex)
    found = [(n, m) for n, m in model.named_modules() if n and pat.fullmatch(n)]
    if len(found) != 1:
        names = [n for n, _ in model.named_modules() if re.search(r"layers\.\d+$", n)]
        what = "no module" if not found else f"{len(found)} modules ({found[0][0]}, ...)"
        raise ObliviateError(
            f"unlearn.params.module_regex={regex!r} matches {what}; it must match exactly one, "
            f"e.g. one of: {', '.join(names[:8]) or 'the model has no layers.N modules'}"
        )
    return found[0][1]


def activations(
    model: Any, module: torch.nn.Module, batch: dict[str, torch.Tensor]
) -> torch.Tensor:
    """Output of ``module`` for ``batch``; the forward pass stops right after it."""
    store: dict[str, torch.Tensor] = {}

    def hook(_mod: torch.nn.Module, _inp: Any, out: Any) -> None:
        store["h"] = out[0] if isinstance(out, tuple) else out
        raise _Stop

    handle = module.register_forward_hook(hook)
    try:
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    except _Stop:
        pass
    finally:
        handle.remove()
    if "h" not in store:
        raise ObliviateError("rmu: the hooked module did not run in the forward pass")
    return store["h"]


@dataclass
class RMUParams(RetainParams):
    RANGES = {
        "steering_coeff": "> 0"
    }  # not a field: value ranges checked at config load (obliviate.checks)
    retain_loss: str = "embed_diff"
    module_regex: str = r"model\.layers\.7"
    trainable_params_regex: str = r"model\.layers\.(5|6|7)\.mlp\.down_proj\.weight"
    steering_coeff: float = 2.0
    reduction: str = "per_item"  # per_item (the formula) | ou (open-unlearning's broadcast)


@register
class RMU(RetainTerm):
    name = "rmu"
    description = "representation misdirection: forget activations to c*u at one layer, retain kept"
    Params = RMUParams
    retain_losses = RMU_RETAIN
    reference_retains = ("embed_diff", "kl")

    @classmethod
    def validate_params(cls, params: dict[str, Any]) -> None:
        """The retain-term checks, then ``reduction`` against :data:`ACTIVATION_REDUCTIONS`."""
        super().validate_params(params)
        reduction = params.get("reduction", "per_item")
        if reduction not in ACTIVATION_REDUCTIONS:
            raise ObliviateError(
                f"unlearn.params.reduction={reduction!r} is unknown for method 'rmu'; "
                f"accepted: {', '.join(ACTIVATION_REDUCTIONS)}"
            )

    @classmethod
    def protocol_changes_training(cls, params: dict[str, Any], benchmark: str) -> bool:
        return "reduction" not in params

    @property
    def reduction(self) -> str:
        """``unlearn.params.reduction`` when given, else the protocol's: paper / ou → ``ou``
        (open-unlearning's broadcast), fixed → ``per_item`` (the formula)."""
        if "reduction" in self.given:
            return self.p.reduction
        return "ou" if self.reference_protocol else "per_item"

    def prepare(self, model: torch.nn.Module, ctx: Context) -> None:
        """Find the hooked modules, narrow the trainable parameters, sample the control vector."""
        self.module = find_module(model, self.p.module_regex)
        if self.p.retain_loss == "embed_diff":
            self.ref_module = find_module(
                getattr(ctx.reference, "model", model), self.p.module_regex
            )
        pat = _matcher(self.p.trainable_params_regex)
        kept = 0
        for name, param in model.named_parameters():
            keep = param.requires_grad and bool(pat.fullmatch(name))
            param.requires_grad_(keep)
            kept += keep
        if not kept:
            raise ObliviateError(
                f"unlearn.params.trainable_params_regex={self.p.trainable_params_regex!r} matches "
                f"no trainable parameter; names look like {next(iter(dict(model.named_parameters())))}"
            )
        gen = torch.Generator().manual_seed(ctx.seed)
        r = torch.rand(model.config.hidden_size, generator=gen)
        self.control = (self.p.steering_coeff * r / r.norm()).to(ctx.device)

    def forget_loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        h = activations(model, self.module, fb)
        mask = fb["labels"] != -100
        return activation_mse(h, self.control.to(h.dtype), mask, self.reduction), {}

    def retain_term(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> dict[str, torch.Tensor]:
        """``embed_diff``: the activation MSE to the reference on retain inputs; else the shared
        retain losses."""
        if self.p.retain_loss != "embed_diff":
            return super().retain_term(model, batch, ctx)
        rb = batch["retain"]
        h_r = activations(model, self.module, rb)
        with torch.no_grad():
            h_ref = activations(ctx.reference.forward, self.ref_module, rb)
        mse = activation_mse(h_r, h_ref, rb["labels"] != -100, self.reduction)
        return {"embed_diff": mse}
