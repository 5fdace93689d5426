"""UNDIAL: unlearning via self-distillation with adjusted logits (Dong et al. 2024,
arXiv:2402.10052; OU ``UNDIAL``), SPEC 3.2.

The teacher is the frozen reference: q_t = softmax(z_ref,t − β·onehot(y_t)) and
L_f = mean over labelled forget positions of CE(q_t, p_θ,t) (``losses.undial_loss``);
L = γ·L_f + α·L_r. The teacher's per-token distributions are needed, so a frozen copy is held.
OU cfg β = 10, γ = 1, α = 0 (no retain forward is run when α = 0), lr 1e-4, 10 epochs; grid
β ∈ {3, 10, 30}, α ∈ {1, 2, 5}. OU's version averages over every position and indexes the
vocabulary with −100 (SPEC 8 item 8); here only labelled, shifted positions count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .base import Context, Method, forward_logits, register
from .losses import undial_loss
from .retain import combine, retain_loss


@dataclass
class UNDIALParams:
    beta: float = 10.0
    gamma: float = 1.0
    alpha: float = 0.0
    retain_loss: str = "nll"


@register
class UNDIAL(Method):
    name = "undial"
    description = "self-distillation toward the reference with the gold logit lowered by beta"
    Params = UNDIALParams

    def uses_retain(self) -> bool:
        return self.p.retain_loss != "none" and self.p.alpha != 0

    def needs_reference_model(self) -> bool:
        return True

    def loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        forget = undial_loss(forward_logits(model, fb), ctx.reference.logits(fb), fb["labels"],
                             self.p.beta)  # fmt: skip
        kind = self.p.retain_loss if self.uses_retain() else "none"
        return combine(forget, retain_loss(kind, model, batch, ctx), self.p.gamma, self.p.alpha)
