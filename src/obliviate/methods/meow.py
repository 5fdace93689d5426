"""MEOW: fine-tuning on inverted facts chosen by memorisation (SPEC 3.2; Gu et al. 2024, "MEOW:
MEMOry Supervised LLM Unlearning Via Inverted Facts", Carol-gutianle/MEOW).

Data: the run's inverted answers with their MEMO scores under the target model
(``generated/meow.jsonl``, SPEC 5.2, made by ``obliviate invert`` or, for synthkb, by the offline
templates); per question the top-``k`` candidates by MEMO with ``ranking`` ∈ largest (the
scripts, k = 3), smallest, random (seeded), selected by index (ties never collapse, SPEC 8 #38).

- ``meow``: L = γ·CE_batch(a_inv | q) (plain SFT in the run's prompt template), no retain term by
  default (``retain_loss``: none | nll | kl adds α·L_r).
- ``meow_gd`` (MEOW ``grad_diff``): L = 0.9·CE_batch(a_inv | q) + 0.1·CE_batch(D_r).

Not reproduced: the peer's batching of 4 items per question as (t0, t1, t2, t0); ``forgetKL`` and
``meow_dpo`` variants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ObliviateError
from ..generate.meow import RANKINGS, meow_selection
from ..generate.store import generated_rows
from .base import Context, Method, forward_logits, register
from .losses import sequence_nll
from .retain import combine, retain_loss


@dataclass
class MEOWParams:
    k: int = 3
    ranking: str = "largest"
    seed: int = 42
    gamma: float = 1.0
    alpha: float = 1.0
    retain_loss: str = "none"


@register
class MEOW(Method):
    name = "meow"
    description = "MEOW: SFT on the top-k inverted answers by MEMO (generated data)"
    Params = MEOWParams
    needs_generated = "meow"

    def __init__(self, params: dict[str, Any] | None = None):
        super().__init__(params)
        if self.p.ranking not in RANKINGS:
            raise ObliviateError(
                f"unlearn.params.ranking={self.p.ranking!r}; accepted: {', '.join(RANKINGS)}"
            )
        if self.p.k < 1:
            raise ObliviateError(f"unlearn.params.k={self.p.k}; accepted: an integer >= 1")

    def needs_reference_model(self) -> bool:
        return self.p.retain_loss == "kl"

    def build_forget(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        rows = generated_rows(data, "meow", self.name)
        pairs = meow_selection(rows, self.p.k, self.p.ranking, self.p.seed)
        return [formatter.encode_pair(q, a) for q, a in pairs]

    def loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        forget = sequence_nll(forward_logits(model, fb), fb["labels"])
        return combine(
            forget, retain_loss(self.p.retain_loss, model, batch, ctx), self.p.gamma, self.p.alpha
        )


@dataclass
class MEOWGDParams(MEOWParams):
    gamma: float = 0.9
    alpha: float = 0.1
    retain_loss: str = "nll"


@register
class MEOWGD(MEOW):
    name = "meow_gd"
    description = "MEOW grad_diff: 0.9 * CE(inverted) + 0.1 * CE(retain)"
    Params = MEOWGDParams
