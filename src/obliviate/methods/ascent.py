"""Gradient ascent and its regularised variants (SPEC 3.2).

- ``ga``: L = −CE_batch(D_f) (Jang et al. 2023, "Knowledge Unlearning for Mitigating Privacy
  Risks in Language Models"). Unbounded: watch the logged forget loss.
- ``gd``: L = γ·(−CE_batch(D_f)) + α·CE_batch(D_r) (OU ``GradDiff``, γ = α = 1).
- ``ga_kl``: L = γ·(−CE_batch(D_f)) + α·KL_R (masked to labelled retain positions; needs a
  frozen reference for per-token distributions).
"""

from __future__ import annotations

from typing import Any

import torch

from .base import Context, forward_logits, register
from .losses import sequence_nll
from .retain import RetainTerm, RetainWeights


class _Ascent(RetainTerm):
    """L_f = −CE_batch(D_f); the retain term is fixed by the class (``fixed_retain``)."""

    Params = RetainWeights

    def forget_loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        return -sequence_nll(forward_logits(model, fb), fb["labels"]), {}


@register
class GradientAscent(_Ascent):
    name = "ga"
    description = "gradient ascent: L = -gamma * CE_batch(forget)"


@register
class GradientDifference(_Ascent):
    name = "gd"
    description = "gradient difference: L = -gamma * CE(forget) + alpha * CE(retain)"
    fixed_retain = ("nll",)


@register
class GradientAscentKL(_Ascent):
    name = "ga_kl"
    description = (
        "ascent + KL: L = -gamma * CE(forget) + alpha * KL(ref || model) on retain answers"
    )
    fixed_retain = ("kl",)
