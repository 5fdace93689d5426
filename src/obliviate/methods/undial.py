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

from .base import Context, forward_logits, register
from .losses import undial_loss
from .retain import RetainParams, RetainTerm


@dataclass
class UNDIALParams(RetainParams):
    RANGES = {"beta": ">= 0"}  # not a field: value ranges checked at config load (obliviate.checks)
    alpha: float = 0.0
    beta: float = 10.0


@register
class UNDIAL(RetainTerm):
    name = "undial"
    description = "self-distillation toward the reference with the gold logit lowered by beta"
    Params = UNDIALParams

    def retain_terms(self) -> tuple[str, ...]:
        """No retain term (and no retain forward) when α = 0."""
        return super().retain_terms() if self.p.alpha != 0 else ()

    def needs_reference_model(self) -> bool:
        return True  # the teacher

    def forget_loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        forget = undial_loss(forward_logits(model, fb), ctx.reference.logits(fb), fb["labels"],
                             self.p.beta)  # fmt: skip
        return forget, {}
