"""Weighted gradient ascent (Wang et al. 2025, "Rethinking LLM Unlearning Objectives: A Gradient
Perspective and Go Beyond", ICLR; OU ``WGA``), SPEC 3.2.

p_t = exp(−ℓ_t); L_f = −mean_{t∈M} sg(p_t^β)·ℓ_t over labelled forget positions
(``losses.weighted_ascent_loss``): tokens the model already finds unlikely stop pushing, so the
ascent saturates instead of diverging. L = γ·L_f + α·L_r. OU cfg β = 1, γ = α = 1, retain NLL,
lr 1e-5, 5 epochs. No reference (OU builds an unused copy: SPEC 8 item 9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .base import Context, forward_logits, register
from .losses import weighted_ascent_loss
from .retain import RetainParams, RetainTerm


@dataclass
class WGAParams(RetainParams):
    RANGES = {"beta": ">= 0"}  # not a field: value ranges checked at config load (obliviate.checks)
    beta: float = 1.0


class _WeightedAscent(RetainTerm):
    """Token-weighted ascent with a retain term; subclasses choose the weight exponents."""

    def exponents(self) -> tuple[float, float]:
        raise NotImplementedError

    def forget_loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        return weighted_ascent_loss(forward_logits(model, fb), fb["labels"], *self.exponents()), {}


@register
class WGA(_WeightedAscent):
    name = "wga"
    description = "weighted gradient ascent: ascent weighted by sg(p_t^beta) per token"
    Params = WGAParams

    def exponents(self) -> tuple[float, float]:
        return self.p.beta, 0.0
