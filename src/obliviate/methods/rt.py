"""Rejection tuning (RWKU, Jin et al. 2024), SPEC 3.2.

Supervised fine-tuning of questions about the target onto refusal answers:
L = γ·CE_batch(refusal | question) (prompt masked), optionally + α·L_r (γ = α = 1). Data, in
order of preference: the benchmark's refusal set when it has one (RWKU ``train_refusal_llama3``:
the loader puts ``QAItem(question=instruction, answer=refusal)`` in ``data.extras["refusals"]``),
else the forget questions themselves, question i answered with refusal line ``i mod 100`` of
``obliviate.refusals`` (RWKU's own assignment of its ``idontknow`` list to its generated questions).
RWKU full: lr 4e-7, 3 epochs, bs 8; LoRA: lr 3e-5; no retain term.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ObliviateError
from ..records import QAItem
from ..refusals import idk_answer
from .base import register
from .retain import RetainParams
from .sft import ForgetSFT


def refusal_examples(records: list[Any], formatter: Any, data: Any) -> list[Any]:
    """Encoded (question, refusal) examples: the benchmark's refusals, else forget questions."""
    refusals = (getattr(data, "extras", None) or {}).get("refusals")
    if refusals:
        return [formatter.encode_pair(r.question, r.answer) for r in refusals]
    questions = [r.question for r in records if isinstance(r, QAItem)]
    if not questions:
        raise ObliviateError(
            "rt needs questions to answer with refusals: the benchmark has no refusal set "
            "(extras['refusals'], e.g. RWKU train_refusal) and no question/answer forget records"
        )
    return [formatter.encode_pair(q, idk_answer(i)) for i, q in enumerate(questions)]


@dataclass
class RTParams(RetainParams):
    retain_loss: str = "none"


@register
class RejectionTuning(ForgetSFT):
    name = "rt"
    description = "rejection tuning: fine-tune forget questions onto refusal answers (RWKU)"
    Params = RTParams

    def build_forget(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        return refusal_examples(records, formatter, data)
