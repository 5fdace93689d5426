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
- ``relearn_klr_gdr`` (the peer scripts' choice): L = γ·CE_batch(F_aug) + α·CE_batch(D_r) + α·KL_R,
  γ = α = 1; one forward pass of the retain batch serves both retain terms (logged as
  ``retain_nll`` and ``retain_kl``; a single retain term is logged as ``retain_loss``).
  KL_R is the fixed masked mean over labelled retain positions (SPEC 3.0, ``losses.kl_on_labels``).
- ``relearn_dpo`` (+ ``_gdr``: α·CE(D_r), ``_klr``: α·KL_R): DPO with the vague answer preferred over the original
  answer to the same question variant, L_f = −(2/β)·mean logσ(β·[(r⁺_θ − r⁺_ref) − (r⁻_θ − r⁻_ref)])
  with **sequence-sum** log-probs (the peer's batch token mean, SPEC 8 #23, is not reproduced),
  reference log-probs cached once in ``prepare`` (``losses.dpo_loss``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ObliviateError
from ..formatting import Encoded, Formatter
from ..generate.relearn import mix_general, preference_pairs, relearn_pairs
from ..generate.store import generated_rows
from .base import register, register_variant
from .preference import PreferenceMethod, PreferenceParams
from .retain import RetainWeights
from .sft import ForgetSFT


@dataclass
class ReLearnParams(RetainWeights):
    RANGES = {
        "general_ratio": ">= 0"
    }  # not a field: value ranges checked at config load (obliviate.checks)
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


class _ReLearn(ForgetSFT):
    """CE on the augmented forget set; the retain terms are fixed by the class."""

    Params = ReLearnParams
    needs_generated = "relearn"

    def build_forget(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        rows = generated_rows(data, "relearn", self.name)
        pairs = relearn_pairs(rows, self.p.include_original, self.p.completion, self.p.seed)
        general = mix_general(getattr(data, "general", []), len(pairs), self.p.general_ratio)
        return encode_pairs(pairs, formatter) + [formatter.encode_record(r) for r in general]


@register
class ReLearn(_ReLearn):
    name = "relearn"
    description = "ReLearn: CE on augmented vague answers (generated data)"


@register
class ReLearnGDR(_ReLearn):
    name = "relearn_gdr"
    description = "ReLearn + alpha * CE(retain)"
    fixed_retain = ("nll",)


@register
class ReLearnKLR(_ReLearn):
    name = "relearn_klr"
    description = "ReLearn + alpha * KL(ref || model) on retain answers"
    fixed_retain = ("kl",)


@register
class ReLearnKLRGDR(_ReLearn):
    name = "relearn_klr_gdr"
    description = "ReLearn + alpha * (KL(ref || model) + CE) on retain (the peer scripts' choice)"
    fixed_retain = ("nll", "kl")


@dataclass
class ReLearnDPOParams(PreferenceParams):
    retain_loss: str = "none"  # none | nll (relearn_dpo_gdr) | kl (relearn_dpo_klr)


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


ReLearnDPOGDR = register_variant(
    ReLearnDPO, "relearn_dpo_gdr", "relearn_dpo + alpha * CE(retain)", retain_loss="nll"
)
ReLearnDPOKLR = register_variant(
    ReLearnDPO,
    "relearn_dpo_klr",
    "relearn_dpo + alpha * KL(ref || model) on retain answers",
    retain_loss="kl",
)
