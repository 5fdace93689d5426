"""MEOW: fine-tuning on inverted facts chosen by memorisation (SPEC 3.2; Gu et al. 2024, "MEOW:
MEMOry Supervised LLM Unlearning Via Inverted Facts", Carol-gutianle/MEOW ``meow/trainer.py``).

Data: the run's inverted answers with their MEMO scores under the target model
(``generated/meow.jsonl``, SPEC 5.2, made by ``obliviate invert`` or, for synthkb, by the offline
templates); per question the top-``k`` candidates by MEMO with ``ranking`` ∈ largest (the
scripts, k = 3), smallest, random (seeded), selected by index (ties never collapse, SPEC 8 #38).

- ``meow``: L = γ·CE_batch(a_inv | q) (plain SFT in the run's prompt template), no retain term by
  default (``retain_loss``: none | nll | kl adds α·L_r).
- ``meow_gd`` (MEOW ``meow_grad_diff``): L = 0.9·CE_batch(a_inv | q) + 0.1·CE_batch(D_r).
- ``meow_forgetkl`` (MEOW ``meow_forgetKL``): L = γ·(CE_batch(a_inv | q) + λ·KL_F) (+ α·L_r),
  KL_F = mean over the labelled positions of the *inverted* batch of KL_t(π_ref ‖ π_θ)
  (``losses.kl_on_labels``), π_ref = the starting model (``Context.reference``); γ = λ = 1 as
  in the peer. The peer's ``kl_div(batchmean)`` over every position, prompt and pad included
  (SPEC 8 #7), is not reproduced.
- ``meow_dpo`` (MEOW ``meow_dpo``): DPO with each selected inverted answer preferred over the
  original answer to the same question, L_f = −(2/β)·mean logσ(β·[(r_θ − r_ref)(a_inv) −
  (r_θ − r_ref)(a)]) with **sequence-sum** log-probs (``losses.dpo_loss``; the peer also sums,
  ``get_batch_loss``), reference log-probs cached once in ``prepare``; L = γ·L_f + α·L_r, no
  retain term by default. The peer's dataset class defines no data for ``meow_dpo`` (SPEC 8
  #36); the pairs here are :func:`obliviate.generate.meow.meow_preference_pairs`.

Not reproduced: the peer's batching of 4 items per question as (t0, t1, t2, t0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ObliviateError
from ..generate.meow import RANKINGS, meow_preference_pairs, meow_selection
from ..generate.store import generated_rows
from .base import Context, forward_logits, register, register_variant
from .losses import kl_on_labels, sequence_nll
from .preference import PreferenceMethod, PreferenceParams
from .retain import RetainParams
from .sft import ForgetSFT


@dataclass
class SelectionParams:
    """Which inverted answers are used: the top ``k`` per question by MEMO under ``ranking``."""

    RANGES = {"k": ">= 1"}  # not a field: value ranges checked at config load (obliviate.checks)

    k: int = 3
    ranking: str = "largest"
    seed: int = 42


def check_selection(p: SelectionParams) -> None:
    """Reject an unknown ``ranking`` or a ``k`` below 1 (``unlearn.params``)."""
    if p.ranking not in RANKINGS:
        raise ObliviateError(
            f"unlearn.params.ranking={p.ranking!r}; accepted: {', '.join(RANKINGS)}"
        )
    if p.k < 1:
        raise ObliviateError(f"unlearn.params.k={p.k}; accepted: an integer >= 1")


class InvertedFacts:
    """Mixin of the MEOW family: the run's ``generated/meow.jsonl`` rows, selection checked."""

    needs_generated = "meow"

    def __init__(self, params: dict[str, Any] | None = None):
        super().__init__(params)  # type: ignore[call-arg]
        check_selection(self.p)  # type: ignore[attr-defined]

    def meow_rows(self, data: Any) -> list[dict[str, Any]]:
        return generated_rows(data, "meow", self.name)  # type: ignore[attr-defined]


@dataclass
class MEOWParams(RetainParams, SelectionParams):
    retain_loss: str = "none"


@register
class MEOW(InvertedFacts, ForgetSFT):
    name = "meow"
    description = "MEOW: SFT on the top-k inverted answers by MEMO (generated data)"
    Params = MEOWParams

    def build_forget(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        pairs = meow_selection(self.meow_rows(data), self.p.k, self.p.ranking, self.p.seed)
        return [formatter.encode_pair(q, a) for q, a in pairs]


MEOWGD = register_variant(
    MEOW,
    "meow_gd",
    "MEOW grad_diff: 0.9 * CE(inverted) + 0.1 * CE(retain)",
    gamma=0.9,
    alpha=0.1,
    retain_loss="nll",
)


@dataclass
class MEOWForgetKLParams(MEOWParams):
    RANGES = {
        "kl_weight": ">= 0"
    }  # not a field: value ranges checked at config load (obliviate.checks)
    kl_weight: float = 1.0  # λ


@register
class MEOWForgetKL(MEOW):
    name = "meow_forgetkl"
    description = "MEOW forgetKL: CE(inverted) + KL(ref || model) on the inverted inputs"
    Params = MEOWForgetKLParams

    def needs_reference_model(self) -> bool:
        return True  # π_ref of KL_F

    def forget_loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        logits = forward_logits(model, fb)
        ce = sequence_nll(logits, fb["labels"])
        kl = kl_on_labels(logits, ctx.reference.logits(fb), fb["labels"])
        parts = {"inverted_ce": float(ce.detach()), "inverted_kl": float(kl.detach())}
        return ce + self.p.kl_weight * kl, parts


@dataclass
class MEOWDPOParams(PreferenceParams, SelectionParams):
    retain_loss: str = "none"


@register
class MEOWDPO(InvertedFacts, PreferenceMethod):
    name = "meow_dpo"
    description = "MEOW dpo: DPO with the selected inverted answer preferred over the original"
    Params = MEOWDPOParams

    def build_forget(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        rows = self.meow_rows(data)
        triples = meow_preference_pairs(rows, self.p.k, self.p.ranking, self.p.seed)
        return [
            {"chosen": formatter.encode_pair(q, inv), "rejected": formatter.encode_pair(q, a)}
            for q, inv, a in triples
        ]
