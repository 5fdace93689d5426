"""The retain term L_r shared by every method that has one (SPEC 3.0).

``nll``: CE_batch on the retain batch (GD); ``kl``: fixed KL_R, the mean of
KL_t(p_ref ‖ p_θ) over labelled retain positions; ``none``: no retain term.
"""

from __future__ import annotations

from typing import Any

import torch

from .base import RETAIN_LOSSES, Context, forward_logits
from .losses import kl_on_labels, sequence_nll


def retain_loss(
    kind: str, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
) -> torch.Tensor | None:
    """L_r on ``batch["retain"]``, or None when ``kind == "none"``."""
    if kind == "none":
        return None
    rb = batch["retain"]
    logits = forward_logits(model, rb)
    if kind == "nll":
        return sequence_nll(logits, rb["labels"])
    if kind == "kl":
        if ctx.reference is None:
            raise RuntimeError("retain_loss='kl' needs a reference model")
        ref_logits = ctx.reference.logits(rb)
        return kl_on_labels(logits, ref_logits, rb["labels"])
    raise ValueError(f"unknown retain loss {kind!r}; accepted: {', '.join(RETAIN_LOSSES)}")


def combine(
    forget: torch.Tensor, retain: torch.Tensor | None, gamma: float, alpha: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """L = γ·L_f + α·L_r, with the parts for logging."""
    parts = {"forget_loss": float(forget.detach())}
    total = gamma * forget
    if retain is not None:
        total = total + alpha * retain
        parts["retain_loss"] = float(retain.detach())
    return total, parts
