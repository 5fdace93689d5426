"""CE-U: cross-entropy unlearning (Yang et al. 2025, arXiv:2503.01224; OU ``CEU``), SPEC 3.2.

The target at each labelled forget position is the model's own detached next-token
distribution with the gold token removed: softmax(sg(z) with z_y = −∞); L = token mean of
CE(target, p_θ) (``losses.ce_u_loss``), leaving out the first ``ignore_first_n_answer_tokens``
answer tokens of each sequence (paper footnote; OU default 1). Forget term only, no retain term,
no reference. The loss is bounded: its gradient pushes probability from the gold token to the
rest in proportion to their current mass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .base import Context, Method, forward_logits, register
from .losses import ce_u_loss


@dataclass
class CEUParams:
    RANGES = {
        "ignore_first_n_answer_tokens": ">= 0"
    }  # not a field: value ranges checked at config load (obliviate.checks)
    ignore_first_n_answer_tokens: int = 1


@register
class CEU(Method):
    name = "ce_u"
    description = (
        "cross-entropy unlearning: CE to the model's own distribution minus the gold token"
    )
    Params = CEUParams

    def loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        loss = ce_u_loss(
            forward_logits(model, fb), fb["labels"], self.p.ignore_first_n_answer_tokens
        )
        return loss, {"forget_loss": float(loss.detach())}
