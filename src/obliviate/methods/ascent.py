"""Gradient ascent and its regularised variants (SPEC 3.2).

- ``ga``: L = −CE_batch(D_f) (Jang et al. 2023, "Knowledge Unlearning for Mitigating Privacy
  Risks in Language Models"). Unbounded: watch the logged forget loss.
- ``gd``: L = γ·(−CE_batch(D_f)) + α·CE_batch(D_r) (OU ``GradDiff``, γ = α = 1).
- ``ga_kl``: L = γ·(−CE_batch(D_f)) + α·KL_R (masked to labelled retain positions; needs a
  frozen reference for per-token distributions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .base import Context, Method, forward_logits, register
from .losses import sequence_nll
from .retain import combine, retain_loss


@dataclass
class AscentParams:
    gamma: float = 1.0
    alpha: float = 1.0


class _Ascent(Method):
    Params = AscentParams
    retain_kind = "none"

    def uses_retain(self) -> bool:
        return self.retain_kind != "none"

    def needs_reference_model(self) -> bool:
        return self.retain_kind == "kl"

    def loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        forget = -sequence_nll(forward_logits(model, fb), fb["labels"])
        return combine(
            forget, retain_loss(self.retain_kind, model, batch, ctx), self.p.gamma, self.p.alpha
        )


@register
class GradientAscent(_Ascent):
    name = "ga"
    description = "gradient ascent: L = -gamma * CE_batch(forget)"


@register
class GradientDifference(_Ascent):
    name = "gd"
    description = "gradient difference: L = -gamma * CE(forget) + alpha * CE(retain)"
    retain_kind = "nll"


@register
class GradientAscentKL(_Ascent):
    name = "ga_kl"
    description = (
        "ascent + KL: L = -gamma * CE(forget) + alpha * KL(ref || model) on retain answers"
    )
    retain_kind = "kl"
