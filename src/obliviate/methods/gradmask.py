"""Shared parts of the gradient-masking methods (``memflex_iterative``, ``sure``; SPEC 3.2).

- the forget term of the GA and NPO families: GA's L_f = CE_batch(D_f) enters the total with
  sign −1; NPO's L_f = −(2/β)·mean_i logσ(β·(NLL_sum,θ − NLL_sum,ref)) with sign +1 (NLL_ref
  cached once by ``base.cache_forget_nll_sums``, as ``npo`` does). The *unsigned* L_f is the
  one whose gradient the masks read, as in ReLearn's trainers (``loss_f.backward()``);
- :class:`GradSum`: the step's diagnostic gradients, taken with ``torch.autograd.grad`` so the
  parameters' ``.grad`` never see them (SPEC 8 item 22: ReLearn left them in ``.grad``), summed
  over the micro-batches of one optimizer step and, under several processes, averaged over the
  ranks (one all-reduce per step) before any mask is taken: every replica then selects the same
  rows / tensors and the replicas stay identical (DDP averages the main gradients the same way).
"""

from __future__ import annotations

from typing import Any

import torch

from .. import distributed
from .base import Context, forward_logits
from .losses import npo_loss, reduce_nll, sequence_nll, token_nll

FORGET_SIGNS = {"ga": -1.0, "npo": 1.0}  # the sign L_f enters the total with
FORGET_KINDS = tuple(FORGET_SIGNS)


def forget_term(
    kind: str, model: torch.nn.Module, batch: dict[str, Any], ctx: Context, beta: float
) -> tuple[torch.Tensor, float]:
    """(L_f, sign): GA → (CE_batch(D_f), −1); NPO → (L_NPO, +1)."""
    fb = batch["forget"]
    logits = forward_logits(model, fb)
    if kind == "ga":
        return sequence_nll(logits, fb["labels"]), FORGET_SIGNS[kind]
    nll, mask = token_nll(logits, fb["labels"])
    ref = ctx.ref_cache["forget_nll_sum"].to(logits.device)[fb["index"]]
    return npo_loss(reduce_nll(nll, mask, "seq_sum"), ref, beta), FORGET_SIGNS[kind]


class GradSum:
    """Σ over the micro-batches of a step of ∇L for each tracked tensor (fp32)."""

    def __init__(self, params: list[tuple[str, torch.nn.Parameter]]):
        self.params = params
        self.sums: list[torch.Tensor] | None = None
        self.count = 0

    def add(self, loss: torch.Tensor) -> None:
        grads = torch.autograd.grad(
            loss, [p for _, p in self.params], retain_graph=True, allow_unused=True
        )
        if self.sums is None:
            self.sums = [torch.zeros_like(p, dtype=torch.float32) for _, p in self.params]
        for acc, g in zip(self.sums, grads):
            if g is not None:
                acc += g.float()
        self.count += 1

    def mean(self) -> dict[str, torch.Tensor]:
        """Mean gradient over the step's micro-batches (of every rank), by canonical name."""
        if self.sums is None:
            raise RuntimeError("no gradient accumulated in this step")
        distributed.all_reduce_mean_(self.sums)  # Σ_a g / A, averaged over ranks: equal counts
        return {n: s / self.count for (n, _), s in zip(self.params, self.sums)}

    def reset(self) -> None:
        self.sums, self.count = None, 0
