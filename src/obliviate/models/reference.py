"""The reference model π_ref: one object, several strategies (SPEC 3.0).

- ``FrozenCopy``: a frozen, eval-mode copy (only where per-token reference distributions are
  needed: KL, UNDIAL, RMU);
- cached per-sequence log-probs (NPO, DPO) are not a model at all: methods compute them in
  ``prepare`` with :func:`obliviate.eval.scoring.score` and keep them in ``Context.ref_cache``.
Other strategies (a LoRA base with adapters disabled) implement the same ``logits``/``hidden``.
"""

from __future__ import annotations

import copy
from typing import Any

import torch


class FrozenCopy:
    """A deep copy of the starting model in eval mode with gradients off."""

    kind = "frozen_copy"

    def __init__(self, model: torch.nn.Module):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def logits(self, batch: dict[str, Any]) -> torch.Tensor:
        return self.model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).logits

    @torch.no_grad()
    def forward(self, **kwargs: Any):
        return self.model(**kwargs)
