"""MemFlex: unlearning confined to a localised knowledge region (SPEC 3.2, 4.1).

- ``memflex`` (KnowUnDo, Tian et al. 2024, arXiv:2407.01920): the region comes from the offline
  localisation (:mod:`obliviate.methods.localize`; the pipeline runs ``obliviate localize`` first unless
  ``region_file`` is given) and only its tensors get ``requires_grad``. The forget stream is
  KUD's interleaved list (each forget item followed by one retain item, the retain items drawn
  from the whole retain set, SPEC 8 item 21) with factors f = −0.4 (forget) / +2.0 (retain):

      L = (1/B) Σ_i f_i · NLL_mean(item_i)

  which with bs 1 × ga 16 is KUD's −0.4·ℓ(forget) or +2.0·ℓ(retain) per item. KUD shuffles the
  list once; here the trainer reshuffles it every epoch (seeded).
- ``memflex_iterative`` (ReLearn's ``*_memflex``, Xu et al. 2025, arXiv:2502.11190): every
  optimizer step, diagnostic gradients g_F = ∇L_f and g_R = ∇R of the step's batches give the
  region {k : cos(g_F[k], g_R[k]) < μ ∧ mean|g_F[k]| > σ} over the trainable tensors; after the
  main backward every tensor outside it gets ``grad = None``, so no torch optimizer moves it
  (no momentum, no weight decay: zeroing alone would not stop AdamW). Loss: GA variants
  −0.4·CE(B_F) + 2.0·R, NPO variants 0.4·L_NPO + 2.0·R, R = CE(B_R) (``nll``, ReLearn ``gdr``)
  or KL_R (``kl``, ``klr``; the fixed masked KL, SPEC 3.0).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from ..errors import ObliviateError
from ..models.scope import match_region, named_parameters, read_region
from .base import Context, Method, cache_forget_nll_sums, forward_logits, register
from .gradmask import FORGET_KINDS, FORGET_SIGNS, GradSum, forget_term
from .localize import select_region, tensor_stats
from .losses import sequence_nll
from .retain import RetainTerm


@dataclass
class MemFlexParams:
    RANGES = {
        "sim_thresh": "[-1, 1]",
        "grad_thresh": ">= 0",
        "num_copies": ">= 1",
    }  # not a field: value ranges checked at config load (obliviate.checks)
    forget_factor: float = -0.4
    retain_factor: float = 2.0
    sim_thresh: float = 0.92  # localisation μ (SPEC 4.1)
    grad_thresh: float = 6e-4  # localisation σ
    num_copies: int = 3  # localisation: corrupted copies per item
    seed: int = 42  # localisation corruption and retain interleaving
    region_file: str = ""  # empty: the pipeline localises and fills it in


@register
class MemFlex(Method):
    name = "memflex"
    description = (
        "train only the localised region: -0.4 * NLL(forget) / +2.0 * NLL(retain), interleaved"
    )
    Params = MemFlexParams
    needs_region: ClassVar[bool] = True

    def __init__(self, params: dict[str, Any] | None = None):
        super().__init__(params)
        self.factors = torch.empty(0)

    def build_forget(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        """Forget item, then one retain item, for every forget record; factors by position."""
        retain = list(getattr(data, "retain", []) or [])
        if not retain:
            raise ObliviateError(
                "method 'memflex' interleaves retain items; the benchmark has none"
            )
        rng = random.Random(self.p.seed)
        order = rng.sample(range(len(retain)), len(retain))
        items, factors = [], []
        for i, rec in enumerate(records):
            items += [
                formatter.encode_record(rec),
                formatter.encode_record(retain[order[i % len(order)]]),
            ]
            factors += [self.p.forget_factor, self.p.retain_factor]
        self.factors = torch.tensor(factors)
        return items

    def prepare(self, model: torch.nn.Module, ctx: Context) -> None:
        """Restrict ``requires_grad`` to the region (which must lie inside the scope)."""
        source = f"unlearn.params.region_file={self.p.region_file}"
        if not self.p.region_file:
            raise ObliviateError(f"{source}: memflex needs a region (run `obliviate localize`)")
        region = match_region(model, read_region(self.p.region_file), source)
        params = named_parameters(model)
        outside = sorted(n for n, p in params if n in region and not p.requires_grad)
        if outside:
            raise ObliviateError(
                f"{source}: {len(outside)} region tensors are frozen under unlearn.scope "
                f"(e.g. {outside[0]!r}); localise under the same scope"
            )
        if not region:
            raise ObliviateError(
                f"{source}: the region is empty; raise unlearn.params.sim_thresh or lower "
                "unlearn.params.grad_thresh"
            )
        for name, p in params:
            p.requires_grad_(name in region)

    def loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        nll = sequence_nll(forward_logits(model, fb), fb["labels"], "seq_mean")
        f = self.factors.to(nll.device)[fb["index"]]
        parts: dict[str, float] = {}
        for key, sel in (("forget_nll", f < 0), ("retain_nll", f >= 0)):
            if sel.any():
                parts[key] = float(nll.detach()[sel].mean())
        return (f * nll).mean(), parts


@dataclass
class IterativeMemFlexParams:
    RANGES = {
        "forget_weight": ">= 0",
        "retain_weight": ">= 0",
        "beta": "> 0",
        "sim_thresh": "[-1, 1]",
        "grad_thresh": ">= 0",
    }  # not a field: value ranges checked at config load (obliviate.checks)
    forget_loss: str = "ga"  # ga | npo
    retain_loss: str = "nll"  # nll (ReLearn gdr) | kl (klr)
    forget_weight: float = 0.4
    retain_weight: float = 2.0
    beta: float = 0.1  # NPO β
    sim_thresh: float = 0.92
    grad_thresh: float = 6e-4


@register
class IterativeMemFlex(RetainTerm):
    name = "memflex_iterative"
    description = "ReLearn's MemFlex: region re-localised every step from g_F, g_R; rest frozen"
    Params = IterativeMemFlexParams
    masks_gradients: ClassVar[bool] = True  # edits p.grad in before_step (recipe checks)
    retain_losses = ("nll", "kl")

    def __init__(self, params: dict[str, Any] | None = None):
        super().__init__(params)
        if self.p.forget_loss not in FORGET_KINDS:
            raise ObliviateError(
                f"unlearn.params.forget_loss={self.p.forget_loss!r}; accepted: {', '.join(FORGET_KINDS)}"
            )
        self.g_forget: GradSum | None = None
        self.g_retain: GradSum | None = None
        self.region_size = 0

    def retain_terms(self) -> tuple[str, ...]:
        return (self.p.retain_loss,)

    def weights(self) -> tuple[float, float]:
        """(±forget_weight, retain_weight): GA's L_f enters with sign −1."""
        return FORGET_SIGNS[self.p.forget_loss] * self.p.forget_weight, self.p.retain_weight

    def prepare(self, model: torch.nn.Module, ctx: Context) -> None:
        if self.p.forget_loss == "npo":
            cache_forget_nll_sums(model, ctx)
        params = [(n, p) for n, p in named_parameters(model) if p.requires_grad]
        self.g_forget, self.g_retain = GradSum(params), GradSum(params)

    def loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        assert self.g_forget is not None and self.g_retain is not None, "prepare() not run"
        lf, _ = forget_term(self.p.forget_loss, model, batch, ctx, self.p.beta)
        retain = self.retain_term(model, batch, ctx)
        self.g_forget.add(lf)
        self.g_retain.add(retain[self.p.retain_loss])
        total, parts = self.combine(lf, retain)
        parts["region_tensors"] = float(self.region_size)  # of the previous step
        return total, parts

    def before_step(self, model: torch.nn.Module, ctx: Context) -> None:
        """Select the step's region; tensors outside it get no gradient at all."""
        assert self.g_forget is not None and self.g_retain is not None
        stats = tensor_stats(self.g_forget.mean(), self.g_retain.mean())
        region = set(select_region(stats, self.p.sim_thresh, self.p.grad_thresh))
        for name, p in self.g_forget.params:
            if name not in region:
                p.grad = None
        self.region_size = len(region)
        self.g_forget.reset()
        self.g_retain.reset()
