"""The retain term L_r and the combination L = γ·L_f + α·L_r shared by every method that has one
(SPEC 3.0).

L_r kinds: ``nll``: CE_batch on the retain batch (GD); ``kl``: fixed KL_R, the mean of
KL_t(p_ref ‖ p_θ) over labelled retain positions (needs a frozen reference); ``none``: no
retain term. A method with several terms (ReLearn's ``klr_gdr``: α·CE + α·KL_R) computes them
from one forward pass of the retain batch.

:class:`RetainTerm` is the base of those methods: it owns the weights and the kind of L_r
(:class:`RetainWeights`, :class:`RetainParams`), whether batches need retain items, whether a
reference model is held, the retain loss and the combination; a subclass writes
``forget_loss`` (or, for its own combination, ``loss``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from ..errors import ObliviateError
from .base import Context, Method, forward_logits
from .losses import kl_on_labels, sequence_nll

RETAIN_LOSSES = ("nll", "kl", "none")  # the accepted ``retain_loss`` values (SPEC 3.0)


@dataclass
class RetainWeights:
    """γ (forget weight) and α (retain weight) of L = γ·L_f + α·L_r."""

    RANGES = {
        "gamma": ">= 0",
        "alpha": ">= 0",
    }  # not a field: value ranges checked at config load (obliviate.checks)

    gamma: float = 1.0
    alpha: float = 1.0


@dataclass
class RetainParams(RetainWeights):
    """The weights and the L_r kind (``nll`` | ``kl`` | ``none``), chosen per run."""

    retain_loss: str = "nll"


def retain_losses(
    kinds: tuple[str, ...], model: torch.nn.Module, batch: dict[str, Any], ctx: Context
) -> dict[str, torch.Tensor]:
    """Each L_r term in ``kinds`` on ``batch["retain"]`` (one forward pass), by kind; ``{}`` for
    no kind."""
    if not kinds:
        return {}
    rb = batch["retain"]
    logits = forward_logits(model, rb)
    out: dict[str, torch.Tensor] = {}
    for kind in kinds:
        if kind == "nll":
            out[kind] = sequence_nll(logits, rb["labels"])
        elif kind == "kl":
            if ctx.reference is None:
                raise RuntimeError("retain_loss='kl' needs a reference model")
            out[kind] = kl_on_labels(logits, ctx.reference.logits(rb), rb["labels"])
        else:
            raise ValueError(f"unknown retain loss {kind!r}; accepted: {', '.join(RETAIN_LOSSES)}")
    return out


def combine(
    forget: torch.Tensor, retain: dict[str, torch.Tensor], gamma: float, alpha: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """L = γ·L_f + α·Σ_k L_r,k, with the parts for logging (``retain_loss`` for one term,
    ``retain_<kind>`` for each of several)."""
    parts = {"forget_loss": float(forget.detach())}
    total = gamma * forget
    for kind, value in retain.items():
        total = total + alpha * value
        parts["retain_loss" if len(retain) == 1 else f"retain_{kind}"] = float(value.detach())
    return total, parts


class RetainTerm(Method):
    """A method whose loss is L = γ·L_f + α·L_r.

    The L_r terms are the ``retain_loss`` parameter when the ``Params`` are
    :class:`RetainParams`, else the class's ``fixed_retain``; γ, α come from the ``Params`` when
    they are :class:`RetainWeights`, else 1. Subclasses implement ``forget_loss``.
    """

    Params: ClassVar[type] = RetainParams
    fixed_retain: ClassVar[tuple[str, ...]] = ()  # L_r terms of a method without ``retain_loss``
    reference_retains: ClassVar[tuple[str, ...]] = ("kl",)  # terms that need a frozen reference
    retain_losses: ClassVar[tuple[str, ...]] = RETAIN_LOSSES  # accepted ``retain_loss`` values

    @classmethod
    def validate_params(cls, params: dict[str, Any]) -> None:
        """The base checks, then ``retain_loss`` against ``retain_losses``."""
        super().validate_params(params)
        defaults = cls.param_defaults()
        if "retain_loss" in defaults:
            value = params.get("retain_loss", defaults["retain_loss"])
            if value not in cls.retain_losses:
                raise ObliviateError(
                    f"unlearn.params.retain_loss={value!r} is unknown for method {cls.name!r}; "
                    f"accepted: {', '.join(cls.retain_losses)}"
                )

    def retain_terms(self) -> tuple[str, ...]:
        """The L_r kinds in use, in the order they are added; ``()`` for none."""
        if isinstance(self.p, RetainParams):
            return () if self.p.retain_loss == "none" else (self.p.retain_loss,)
        return self.fixed_retain

    def weights(self) -> tuple[float, float]:
        """(γ, α)."""
        if isinstance(self.p, RetainWeights):
            return self.p.gamma, self.p.alpha
        return 1.0, 1.0

    def uses_retain(self) -> bool:
        return bool(self.retain_terms())

    def needs_reference_model(self) -> bool:
        return any(kind in self.reference_retains for kind in self.retain_terms())

    def retain_term(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> dict[str, torch.Tensor]:
        """The L_r terms of this batch, by kind."""
        return retain_losses(self.retain_terms(), model, batch, ctx)

    def combine(
        self, forget: torch.Tensor, retain: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """L = γ·L_f + α·L_r with this method's weights."""
        return combine(forget, retain, *self.weights())

    def forget_loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """L_f of the batch and extra parts to log (after the loss parts)."""
        raise NotImplementedError

    def loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        forget, extra = self.forget_loss(model, batch, ctx)
        total, parts = self.combine(forget, self.retain_term(model, batch, ctx))
        return total, {**parts, **extra}
