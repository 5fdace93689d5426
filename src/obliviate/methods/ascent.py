"""Gradient ascent and its regularised variants (SPEC 3.2).

- ``ga``: L = −CE_batch(D_f) (Jang et al. 2023, "Knowledge Unlearning for Mitigating Privacy
  Risks in Language Models"). Unbounded: watch the logged forget loss.
- ``gd``: L = γ·(−CE_batch(D_f)) + α·CE_batch(D_r) (OU ``GradDiff``, γ = α = 1).
- ``ga_kl``: L = γ·(−CE_batch(D_f)) + α·KL_R (masked to labelled retain positions; needs a
  frozen reference for per-token distributions).

On KnowUnDo under ``eval.protocol=paper`` (or ``ou``) ``gd`` and ``ga_kl`` train on KnowUnDo's
one interleaved stream instead of paired forget / retain batches (``interleaved_stream``):
forget item i (factor −γ) then retain item i (factor +α) for the first |D_f| retain items
(KnowUnDo ``llm_unlearn/utils/ascent_plus_descent_tokenizer.py`` l. 33-53, ``positive_ratio``
1, ``positive_factor`` 1.0; commit 92aea2b8), each micro-batch a slice of that stream:

- ``gd`` (``llm_unlearn/methods/ascent_plus_descent.py`` l. 19-34):
  L = (1/B) Σ_i f_i · NLL_mean(item_i);
- ``ga_kl`` (``llm_unlearn/methods/ascent_plus_KLdivergence.py`` l. 18-35, 55-89):
  L = −γ·CE_batch(forget items of the batch) + α·mean_{b,t} Σ_v −p_ref log(p_θ + 1e-12) over
  every position of the batch's retain items (prompt and padding included; KnowUnDo pads to
  256 tokens, obliviate to the batch's longest item).

KnowUnDo shuffles the stream once (``random.seed(42)``) and reads it sequentially; here the
trainer reshuffles it every epoch (seeded). Under ``fixed`` (obliviate's correction, SPEC 8
item 21) each forget batch is paired with a retain batch drawn from the whole retain set.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..errors import ObliviateError
from .base import Context, forward_logits, register
from .losses import sequence_nll
from .retain import RetainTerm, RetainWeights


def interleaved_stream(
    forget: list[Any], retain: list[Any], formatter: Any, forget_factor: float,
    retain_factor: float,
) -> tuple[list[Any], torch.Tensor]:  # fmt: skip
    """KnowUnDo's GA+GD / GA+KL stream: ``[f_0, r_0, f_1, r_1, ...]`` with retain record i after
    forget record i (only the first |forget| retain records are used; fewer retain records
    leave the last forget items unpaired, as KnowUnDo's slicing does), and the factor of every
    item (KnowUnDo ``ascent_plus_descent_tokenizer.py`` l. 33-53, commit 92aea2b8)."""
    items, factors = [], []
    for i, rec in enumerate(forget):
        items.append(formatter.encode_record(rec))
        factors.append(forget_factor)
        if i < len(retain):
            items.append(formatter.encode_record(retain[i]))
            factors.append(retain_factor)
    return items, torch.tensor(factors, dtype=torch.float32)


def soft_ce_all_positions(logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
    """KnowUnDo's ``compute_kl``: mean over every [B, T] position of Σ_v −p_ref log(p_θ + 1e-12)
    (= KL(p_ref ‖ p_θ) + H(p_ref); prompt and padding included). KnowUnDo
    ``llm_unlearn/methods/ascent_plus_KLdivergence.py`` l. 83-87, commit 92aea2b8."""
    p_ref = F.softmax(ref_logits.float(), dim=-1)
    q = F.softmax(logits.float(), dim=-1)
    return -(p_ref * torch.log(q + 1e-12)).sum(-1).mean()


def _rows(batch: dict[str, torch.Tensor], keep: torch.Tensor) -> dict[str, torch.Tensor]:
    return {k: v[keep] for k, v in batch.items()}


class _Ascent(RetainTerm):
    """L_f = −CE_batch(D_f); the retain term is fixed by the class (``fixed_retain``)."""

    Params = RetainWeights
    interleaves = False  # KnowUnDo's interleaved stream under the paper protocol

    def __init__(self, params: dict[str, Any] | None = None):
        super().__init__(params)
        self.factors: torch.Tensor | None = None  # set: training on the interleaved stream

    @classmethod
    def protocol_changes_training(cls, params: dict[str, Any], benchmark: str) -> bool:
        return cls.interleaves and benchmark == "knowundo"

    def build_forget(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        """The forget examples; KnowUnDo's interleaved stream under the paper protocol."""
        if not (
            self.interleaves and self.reference_protocol and getattr(data, "name", "") == "knowundo"
        ):
            return super().build_forget(records, formatter, data)
        retain = list(getattr(data, "retain", []) or [])
        if not retain:
            raise ObliviateError(
                f"method {self.name!r} interleaves retain items; the benchmark has none"
            )
        gamma, alpha = self.weights()
        items, self.factors = interleaved_stream(records, retain, formatter, -gamma, alpha)
        return items

    def uses_retain(self) -> bool:
        """No paired retain batches on the interleaved stream (retain items are in it)."""
        return self.factors is None and super().uses_retain()

    def forget_loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        return -sequence_nll(forward_logits(model, fb), fb["labels"]), {}

    def loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        if self.factors is None:
            return super().loss(model, batch, ctx)
        fb = batch["forget"]
        return self.stream_loss(model, fb, self.factors.to(fb["labels"].device)[fb["index"]], ctx)

    def stream_loss(
        self, model: torch.nn.Module, fb: dict[str, Any], f: torch.Tensor, ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError


@register
class GradientAscent(_Ascent):
    name = "ga"
    description = "gradient ascent: L = -gamma * CE_batch(forget)"


@register
class GradientDifference(_Ascent):
    name = "gd"
    description = "gradient difference: L = -gamma * CE(forget) + alpha * CE(retain)"
    fixed_retain = ("nll",)
    interleaves = True

    def stream_loss(
        self, model: torch.nn.Module, fb: dict[str, Any], f: torch.Tensor, ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """L = (1/B) Σ_i f_i · NLL_mean(item_i) (KnowUnDo ``ascent_plus_descent.py`` l. 19-34)."""
        nll = sequence_nll(forward_logits(model, fb), fb["labels"], "seq_mean")
        parts: dict[str, float] = {}
        if (f < 0).any():  # logged as the fixed protocol logs them: L_f = −NLL, L_r = NLL
            parts["forget_loss"] = -float(nll.detach()[f < 0].mean())
        if (f >= 0).any():
            parts["retain_loss"] = float(nll.detach()[f >= 0].mean())
        return (f * nll).mean(), parts


@register
class GradientAscentKL(_Ascent):
    name = "ga_kl"
    description = (
        "ascent + KL: L = -gamma * CE(forget) + alpha * KL(ref || model) on retain answers"
    )
    fixed_retain = ("kl",)
    interleaves = True

    def stream_loss(
        self, model: torch.nn.Module, fb: dict[str, Any], f: torch.Tensor, ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """−γ·CE_batch(forget rows) + α·soft CE over every position of the retain rows
        (KnowUnDo ``ascent_plus_KLdivergence.py`` l. 18-35)."""
        if ctx.reference is None:
            raise RuntimeError("ga_kl needs a reference model")
        neg = f < 0
        total = torch.zeros((), device=f.device)
        parts: dict[str, float] = {}
        if neg.any():
            sub = _rows(fb, neg)
            nll = sequence_nll(forward_logits(model, sub), sub["labels"])
            total = total + f[neg][0] * nll  # f = −γ: −γ·CE (KnowUnDo: outputs.loss * −1)
            parts["forget_loss"] = float(-nll.detach())
        if (~neg).any():
            sub = _rows(fb, ~neg)
            inputs = {"input_ids": sub["input_ids"], "attention_mask": sub["attention_mask"]}
            logits = model(**inputs).logits
            with torch.no_grad():
                ref = ctx.reference.forward(**inputs).logits
            kl = soft_ce_all_positions(logits, ref)
            total = total + f[~neg][0] * kl
            parts["retain_loss"] = float(kl.detach())
        return total, parts
