"""SURE: unlearning through a per-step saliency mask of rows (ReLearn's ``*_sure``, Xu et al.
2025, arXiv:2502.11190; SPEC 3.2, 4.2).

Every optimizer step, from the gradient of L_f alone (a diagnostic ``torch.autograd.grad``
pass, summed over the step's micro-batches): g_kj = ‖∇W_k[j, :]‖₂ for every row j (dim 0) of
every trainable tensor k (|∇| for 1-D tensors); γ = the ``percentile``-th percentile of all
g_kj (numpy's linear interpolation, as the peer); m_kj = 1[g_kj ≥ γ]. The full loss's
gradients are multiplied row-wise by m before ``optimizer.step()``.

SPEC 8 item 22: ReLearn masked after the DeepSpeed step (no effect) and left the diagnostic
gradients in ``.grad``. Here the mask really constrains the *parameters* under any torch
optimizer: a tensor with no salient row gets ``grad = None`` (skipped: no momentum, no weight
decay), and the masked rows of the other tensors are copied back after the step (AdamW would
still move a row with zero gradient through its momentum and weight decay). Under several
processes the forget gradients are averaged over ranks first (``gradmask.GradSum``), so every
replica masks the same rows. Under DeepSpeed/FSDP, whose gradients are sharded and whose
optimizers keep their own master weights, the mask cannot act: the recipe rejects the method
there (``recipe.check_engine``). Order: the trainer clips
before ``before_step``, so the clipping norm includes the rows the mask then removes (ReLearn
masks before HF's clipping).

Base losses (``base``): ``ga`` −CE_f; ``gd`` −CE_f + α·CE_r (``ga_gdr``); ``ga_kl`` −CE_f + α·KL_R
(``ga_klr``); ``npo`` L_NPO; ``npo_gd`` L_NPO + α·CE_r; ``npo_kl`` L_NPO + α·KL_R; L = γ·(±L_f) + α·L_r.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..errors import ObliviateError
from ..models.scope import named_parameters
from .base import Context, cache_forget_nll_sums, register
from .gradmask import GradSum, forget_term
from .retain import RetainTerm, RetainWeights

# base -> (forget kind, retain terms)
SURE_BASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ga": ("ga", ()),
    "gd": ("ga", ("nll",)),
    "ga_kl": ("ga", ("kl",)),
    "npo": ("npo", ()),
    "npo_gd": ("npo", ("nll",)),
    "npo_kl": ("npo", ("kl",)),
}


@dataclass
class SUREParams(RetainWeights):
    RANGES = {
        "percentile": "[0, 100]",
        "beta": "> 0",
    }  # not a field: value ranges checked at config load (obliviate.checks)
    base: str = "gd"
    percentile: float = 99.0
    beta: float = 0.1  # NPO β


def row_norms(grad: torch.Tensor) -> torch.Tensor:
    """‖g[j, ...]‖₂ per row j (dim 0); |g| for 1-D tensors."""
    if grad.dim() == 1:
        return grad.abs()
    return grad.flatten(1).norm(dim=1)


def saliency_masks(grads: list[torch.Tensor], percentile: float) -> list[torch.Tensor]:
    """m_kj = 1[g_kj ≥ γ], γ = percentile of every row norm of every tensor (SPEC 4.2)."""
    norms = [row_norms(g) for g in grads]
    flat = torch.cat([n.flatten() for n in norms]).double().cpu().numpy()
    gamma = float(np.percentile(flat, percentile))
    return [n >= gamma for n in norms]


@register
class SURE(RetainTerm):
    name = "sure"
    description = "saliency-masked unlearning: only the top-1% forget-gradient rows update"
    Params = SUREParams
    masks_gradients: ClassVar[bool] = True  # edits p.grad in before_step (recipe checks)

    def __init__(self, params: dict[str, Any] | None = None):
        super().__init__(params)
        if self.p.base not in SURE_BASES:
            raise ObliviateError(
                f"unlearn.params.base={self.p.base!r} is unknown; accepted: {', '.join(SURE_BASES)}"
            )
        if not 0.0 <= self.p.percentile <= 100.0:
            raise ObliviateError(f"unlearn.params.percentile={self.p.percentile} not in [0, 100]")
        self.forget_kind, self.retain_kinds = SURE_BASES[self.p.base]
        self.g_forget: GradSum | None = None
        self.restore: list[tuple[torch.nn.Parameter, torch.Tensor, torch.Tensor]] = []
        self.kept_rows = 0.0

    def retain_terms(self) -> tuple[str, ...]:
        """The base's retain term."""
        return self.retain_kinds

    def prepare(self, model: torch.nn.Module, ctx: Context) -> None:
        if self.forget_kind == "npo":
            cache_forget_nll_sums(model, ctx)
        self.g_forget = GradSum([(n, p) for n, p in named_parameters(model) if p.requires_grad])

    def forget_loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """±L_f; the mask reads the gradient of the unsigned L_f."""
        assert self.g_forget is not None, "prepare() not run"
        lf, sign = forget_term(self.forget_kind, model, batch, ctx, self.p.beta)
        self.g_forget.add(lf)
        # kept_rows: the fraction of rows updated in the previous step
        return sign * lf, {"kept_rows": self.kept_rows}

    def before_step(self, model: torch.nn.Module, ctx: Context) -> None:
        """Mask the gradients row-wise; remember the masked rows to restore after the step."""
        assert self.g_forget is not None
        params = [p for _, p in self.g_forget.params]
        masks = saliency_masks(list(self.g_forget.mean().values()), self.p.percentile)
        self.g_forget.reset()
        self.restore = []
        kept = total = 0
        for p, keep in zip(params, masks):
            kept, total = kept + int(keep.sum()), total + keep.numel()
            if p.grad is None:
                continue
            if not keep.any():
                p.grad = None  # a torch optimizer skips the tensor entirely
                continue
            p.grad.mul_(keep.view(-1, *([1] * (p.dim() - 1))).to(p.grad.dtype))
            if not keep.all():
                self.restore.append((p, ~keep, p.detach()[~keep].clone()))
        self.kept_rows = kept / max(total, 1)

    def after_step(self, ctx: Context, parts: dict[str, float]) -> None:
        """Copy the masked rows back: momentum and weight decay must not move them either."""
        with torch.no_grad():
            for p, masked, old in self.restore:
                p[masked] = old
        self.restore = []
