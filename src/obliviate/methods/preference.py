"""Preference-based unlearning: the machinery shared by ``dpo``, ``altpo``, ``relearn_dpo*`` and
``meow_dpo`` (SPEC 3.2).

Each forget example is a pair {"chosen": y_w, "rejected": y_l} (encoded); the reference
log-probs of every chosen and rejected answer are computed once in ``prepare`` with the starting
model and cached, so no model copy is held (unless ``retain_loss=kl``). With sequence-sum
log-probs (``losses.dpo_loss``):

    L_f = −c·mean_i logσ(β·[(logπ_θ − logπ_ref)(y_w,i) − (logπ_θ − logπ_ref)(y_l,i)])

c = 2/β as in OU's ``DPO``/``IdkDPO`` (default) or c = 1, the standard TRL sigmoid loss
(``two_over_beta=false``); L = γ·L_f + α·L_r (:class:`~obliviate.methods.retain.RetainTerm`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ObliviateError
from ..records import QAItem
from .base import Context, forward_logits, reference_nll_sums
from .losses import dpo_loss, reduce_nll, token_nll
from .retain import RetainParams, RetainTerm


@dataclass
class PreferenceParams(RetainParams):
    RANGES = {"beta": "> 0"}  # not a field: value ranges checked at config load (obliviate.checks)
    beta: float = 0.1
    two_over_beta: bool = True


def qa_records(records: list[Any], method: str) -> list[QAItem]:
    """``records`` when all are question/answer items, else an error naming the method."""
    bad = [type(r).__name__ for r in records if not isinstance(r, QAItem)]
    if bad:
        raise ObliviateError(
            f"method {method!r} needs question/answer forget records; the benchmark gives "
            f"{bad[0]} records (use its pair data, e.g. RWKU train_pair, or another method)"
        )
    return records


def seq_nll_sum(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sequence-sum NLL of each example in a collated batch."""
    nll, mask = token_nll(forward_logits(model, batch), batch["labels"])
    return reduce_nll(nll, mask, "seq_sum")


class PreferenceMethod(RetainTerm):
    """Pairs {"chosen", "rejected"}, cached reference NLLs, the DPO forget loss."""

    Params = PreferenceParams

    def prepare(self, model: torch.nn.Module, ctx: Context) -> None:
        """Cache NLL_sum of every chosen and rejected answer under the starting model."""
        for key in ("chosen", "rejected"):
            examples = [ex[key] for ex in ctx.forget]
            ctx.ref_cache[f"{key}_nll_sum"] = reference_nll_sums(model, examples, ctx)

    def forget_loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        idx = fb["index"]
        nll_w, nll_l = seq_nll_sum(model, fb["chosen"]), seq_nll_sum(model, fb["rejected"])
        ref_w = ctx.ref_cache["chosen_nll_sum"].to(nll_w.device)[idx]
        ref_l = ctx.ref_cache["rejected_nll_sum"].to(nll_w.device)[idx]
        forget = dpo_loss(nll_w, nll_l, ref_w, ref_l, self.p.beta, self.p.two_over_beta)
        parts = {
            "chosen_logratio": float((ref_w - nll_w).detach().mean()),
            "rejected_logratio": float((ref_l - nll_l).detach().mean()),
        }
        return forget, parts
