"""Supervised fine-tuning as a method: the fine-tune stage (target and retain models) runs it.

L = CE_batch(F) = Σ_{i,t} −log p_θ(y_{i,t} | x_i, y_{i,<t}) / Σ_i |y_i|, the token-mean answer
NLL of the forget stream (when fine-tuning, the fine-tune records), with no retain term and no
reference model (the standard SFT objective, e.g. TOFU's fine-tuning, Maini et al. 2024).
"""

from __future__ import annotations

from typing import Any

import torch

from .base import Context, Method, forward_logits, register
from .losses import sequence_nll


@register
class SFT(Method):
    name = "sft"
    description = "supervised fine-tuning: answer NLL of the forget stream (the fine-tune stage)"

    def loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        return sequence_nll(forward_logits(model, fb), fb["labels"]), {}
