"""ReLearn: unlearning by learning vague, non-sensitive answers (SPEC 3.2; Xu et al. 2025,
"ReLearn: Unlearning via Learning for Large Language Models", zjunlp/unlearn).

Data: the run's ReLearn augmentation (``generated/relearn.jsonl``, SPEC 5.1, made by
``obliviate augment`` or, for synthkb, by the offline templates) gathered by
:func:`obliviate.generate.relearn.relearn_pairs`: aligned (question variant, vague answer) pairs,
seeded shuffle, completion items (a raw continuation: first quarter of the answer's words → the
rest, no prompt template), the original pair only with ``include_original``, and
``general_ratio`` × |pairs| general records when asked.

- ``relearn``: L = γ·CE_batch(F_aug)
- ``relearn_gdr``: L = γ·CE_batch(F_aug) + α·CE_batch(D_r)
- ``relearn_klr``: L = γ·CE_batch(F_aug) + α·KL_R
- ``relearn_klr_gdr`` (the peer scripts' choice): L = γ·CE_batch(F_aug) + α·(KL_R + CE_batch(D_r)),
  γ = α = 1; one forward pass of the retain batch serves both retain terms.
  KL_R is the fixed masked mean over labelled retain positions (SPEC 3.0, ``losses.kl_on_labels``).
- ``relearn_dpo`` (+ ``_gdr``: α·CE(D_r), ``_klr``: α·KL_R): DPO with the vague answer preferred over the original
  answer to the same question variant, L_f = −(2/β)·mean logσ(β·[(r⁺_θ − r⁺_ref) − (r⁻_θ − r⁻_ref)])
  with **sequence-sum** log-probs (the peer's batch token mean, SPEC 8 #23, is not reproduced),
  reference log-probs cached once in ``prepare`` (``losses.dpo_loss``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from ..errors import ObliviateError
from ..formatting import Encoded, Formatter
from ..generate.relearn import mix_general, preference_pairs, relearn_pairs
from ..generate.store import generated_rows
from .base import Context, Method, forward_logits, register
from .dpo import PreferenceMethod
from .losses import kl_on_labels, sequence_nll


@dataclass
class ReLearnParams:
    gamma: float = 1.0
    alpha: float = 1.0
    include_original: bool = False  # also learn the original (question, answer): the peer's default
    completion: bool = True
    general_ratio: float = 0.0  # general records mixed in, as a fraction of the pairs (peer 1.2)
    seed: int = 42


def encode_pairs(pairs: list[Any], formatter: Formatter) -> list[Encoded]:
    """Variant/original pairs in the run's template; completion items as raw continuations."""
    raw = Formatter(formatter.tok, "kud-plain", formatter.max_length)
    return [
        raw.encode_pair(p.question, " " + p.answer)
        if p.kind == "completion"
        else formatter.encode_pair(p.question, p.answer)
        for p in pairs
    ]


class _ReLearn(Method):
    Params = ReLearnParams
    needs_generated = "relearn"
    retain_terms: ClassVar[tuple[str, ...]] = ()  # subset of ("kl", "nll")

    def uses_retain(self) -> bool:
        return bool(self.retain_terms)

    def needs_reference_model(self) -> bool:
        return "kl" in self.retain_terms

    def build_forget(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        rows = generated_rows(data, "relearn", self.name)
        pairs = relearn_pairs(rows, self.p.include_original, self.p.completion, self.p.seed)
        general = mix_general(getattr(data, "general", []), len(pairs), self.p.general_ratio)
        return encode_pairs(pairs, formatter) + [formatter.encode_record(r) for r in general]

    def loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        forget = sequence_nll(forward_logits(model, fb), fb["labels"])
        parts = {"forget_loss": float(forget.detach())}
        total = self.p.gamma * forget
        if self.retain_terms:
            rb = batch["retain"]
            logits = forward_logits(model, rb)
            if "nll" in self.retain_terms:
                nll = sequence_nll(logits, rb["labels"])
                total = total + self.p.alpha * nll
                parts["retain_nll"] = float(nll.detach())
            if "kl" in self.retain_terms:
                kl = kl_on_labels(logits, ctx.reference.logits(rb), rb["labels"])
                total = total + self.p.alpha * kl
                parts["retain_kl"] = float(kl.detach())
        return total, parts


@register
class ReLearn(_ReLearn):
    name = "relearn"
    description = "ReLearn: CE on augmented vague answers (generated data)"


@register
class ReLearnGDR(_ReLearn):
    name = "relearn_gdr"
    description = "ReLearn + alpha * CE(retain)"
    retain_terms = ("nll",)


@register
class ReLearnKLR(_ReLearn):
    name = "relearn_klr"
    description = "ReLearn + alpha * KL(ref || model) on retain answers"
    retain_terms = ("kl",)


@register
class ReLearnKLRGDR(_ReLearn):
    name = "relearn_klr_gdr"
    description = "ReLearn + alpha * (KL(ref || model) + CE) on retain (the peer scripts' choice)"
    retain_terms = ("kl", "nll")


@dataclass
class ReLearnDPOParams:
    beta: float = 0.1
    gamma: float = 1.0
    alpha: float = 1.0
    retain_loss: str = "none"  # none | nll (relearn_dpo_gdr) | kl (relearn_dpo_klr)
    two_over_beta: bool = True


@register
class ReLearnDPO(PreferenceMethod):
    name = "relearn_dpo"
    description = "DPO: vague answer (generated) preferred over the original answer (+ retain)"
    Params = ReLearnDPOParams
    needs_generated = "relearn"

    def build_forget(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        pairs = preference_pairs(generated_rows(data, "relearn", self.name))
        if not pairs:
            raise ObliviateError("relearn_dpo: the augmentation has no vague answer to prefer")
        return [
            {"chosen": formatter.encode_pair(q, good), "rejected": formatter.encode_pair(q, bad)}
            for q, good, bad in pairs
        ]


@dataclass
class ReLearnDPOGDRParams(ReLearnDPOParams):
    retain_loss: str = "nll"


@dataclass
class ReLearnDPOKLRParams(ReLearnDPOParams):
    retain_loss: str = "kl"


@register
class ReLearnDPOGDR(ReLearnDPO):
    name = "relearn_dpo_gdr"
    description = "relearn_dpo + alpha * CE(retain)"
    Params = ReLearnDPOGDRParams


@register
class ReLearnDPOKLR(ReLearnDPO):
    name = "relearn_dpo_klr"
    description = "relearn_dpo + alpha * KL(ref || model) on retain answers"
    Params = ReLearnDPOKLRParams
