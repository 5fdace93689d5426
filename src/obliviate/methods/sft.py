"""Unlearning by learning a rebuilt forget set (SPEC 3.2): random labels and adversarial labels
(KnowUnDo), refusals (RWKU rejection tuning), inverted facts (MEOW).

L = γ·CE_batch(F') + α·L_r, where F' is what the method's ``build_forget`` (or ``prepare``)
made of the forget set and L_r is the ``retain_loss`` term when the method's parameters have one
(γ = α = 1 unless its parameters say otherwise).
"""

from __future__ import annotations

from typing import Any

import torch

from .base import Context, Method, forward_logits
from .losses import sequence_nll
from .retain import combine, retain_loss


class ForgetSFT(Method):
    """Base of the methods that fine-tune (plain NLL) on a rebuilt forget set."""

    def _retain_kind(self) -> str:
        return getattr(self.p, "retain_loss", "none")

    def needs_reference_model(self) -> bool:
        return self._retain_kind() == "kl"

    def loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        forget = sequence_nll(forward_logits(model, fb), fb["labels"])
        retain = retain_loss(self._retain_kind(), model, batch, ctx)
        return combine(forget, retain, getattr(self.p, "gamma", 1.0), getattr(self.p, "alpha", 1.0))
