"""Unlearning by learning a rebuilt forget set (SPEC 3.2): random labels and adversarial labels
(KnowUnDo), refusals (RWKU rejection tuning), inverted facts (MEOW).

L = γ·CE_batch(F') + α·L_r, where F' is what the method's ``build_forget`` (or ``prepare``)
made of the forget set and L_r is the ``retain_loss`` term when the method's parameters are
``RetainParams`` (γ = α = 1 and no retain term unless its parameters say otherwise).
"""

from __future__ import annotations

from typing import Any

import torch

from .base import Context, forward_logits
from .losses import sequence_nll
from .retain import RetainTerm


class ForgetSFT(RetainTerm):
    """Base of the methods that fine-tune (plain NLL) on a rebuilt forget set."""

    def forget_loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        return sequence_nll(forward_logits(model, fb), fb["labels"]), {}
