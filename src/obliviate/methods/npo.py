"""Negative preference optimisation and its reference-free variant (SPEC 3.2).

- ``npo`` (Zhang et al. 2024, arXiv:2404.05868): L_f = −(2/β)·mean_i logσ(β·(NLL_θ − NLL_ref))
  with sequence-sum NLLs; L = γ·L_f + α·L_r, L_r chosen by ``retain_loss`` (OU's ``NPO`` uses
  retain NLL with γ = α = 1, β = 0.1; RWKU uses no retain term: ``retain_loss=none``).
  NLL_ref of every forget item is computed once before training and cached, so no second
  model is held in memory unless ``retain_loss=kl``.
- ``npo_gd`` / ``npo_kl``: NPO with the retain NLL / KL term.
- ``simnpo`` (Fan et al. 2024, arXiv:2410.07163): L_f = −(2/β)·mean_i logσ(β·(NLL_sum,i/n_i − δ)),
  no reference; OU cfg β = 4.5, δ = 0, γ = 0.125, α = 1 with retain NLL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .base import Context, cache_forget_nll_sums, forward_logits, register, register_variant
from .losses import npo_loss, reduce_nll, simnpo_loss, token_nll
from .retain import RetainParams, RetainTerm


def _nll_sums(model: torch.nn.Module, fb: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per item of the forget batch: NLL_sum over its labelled tokens and their count n_i."""
    nll, mask = token_nll(forward_logits(model, fb), fb["labels"])
    return reduce_nll(nll, mask, "seq_sum"), mask.sum(1)


@dataclass
class NPOParams(RetainParams):
    RANGES = {"beta": "> 0"}  # not a field: value ranges checked at config load (obliviate.checks)
    beta: float = 0.1


@register
class NPO(RetainTerm):
    name = "npo"
    description = "negative preference optimisation, cached reference log-probs (+ retain term)"
    Params = NPOParams

    def prepare(self, model: torch.nn.Module, ctx: Context) -> None:
        """Cache NLL_sum of every forget item under the starting (reference) model."""
        cache_forget_nll_sums(model, ctx)

    def forget_loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        nll_sum, lengths = _nll_sums(model, fb)
        ref = ctx.ref_cache["forget_nll_sum"].to(nll_sum.device)[fb["index"]]
        forget_nll = float((nll_sum.detach() / lengths.clamp(min=1)).mean())
        return npo_loss(nll_sum, ref, self.p.beta), {"forget_nll": forget_nll}


NPOGD = register_variant(NPO, "npo_gd", "NPO + alpha * CE(retain)", retain_loss="nll")
NPOKL = register_variant(
    NPO, "npo_kl", "NPO + alpha * KL(ref || model) on retain answers", retain_loss="kl"
)


@dataclass
class SimNPOParams(RetainParams):
    RANGES = {
        "beta": "> 0",
        "gamma": ">= 0",
    }  # not a field: value ranges checked at config load (obliviate.checks)
    gamma: float = 0.125
    beta: float = 4.5
    delta: float = 0.0


@register
class SimNPO(RetainTerm):
    name = "simnpo"
    description = "reference-free, length-normalised NPO (+ retain term)"
    Params = SimNPOParams

    def forget_loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        nll_sum, lengths = _nll_sums(model, batch["forget"])
        return simnpo_loss(nll_sum, lengths, self.p.beta, self.p.delta), {}
