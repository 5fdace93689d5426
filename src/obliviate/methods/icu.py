"""In-context unlearning (RWKU, Jin et al. 2024; after Pawelczyk et al. 2023), SPEC 1.4, 3.2.

No training: the weights stay those of the target model. At evaluation every prompt's user
message (and every raw MIA text) starts with RWKU's exact instruction

    You are an AI Assistant who is supposed to unlearn about {subject} and provide answers
    without its knowledge as if you never knew about it. Don’t tell anyone that you unlearned
    anything.\\n

("Don’t" with U+2019). RWKU evaluates one target at a time and every probe row, neighbour and
utility rows included, carries that target as ``subject``; so the subject named is the record's
own subject when it is a forget target, and otherwise the forget targets (joined "A, B and C"),
never a retain or neighbour person the record happens to be about.
"""

from __future__ import annotations

from typing import Any

from ..errors import ObliviateError
from .base import Method, register

ICU_INSTRUCTION = (
    "You are an AI Assistant who is supposed to unlearn about {subject} and provide answers "
    "without its knowledge as if you never knew about it. Don\u2019t tell anyone that you "
    "unlearned anything.\n"
)


def icu_instruction(subject: str) -> str:
    return ICU_INSTRUCTION.format(subject=subject)


def join_names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@register
class ICU(Method):
    name = "icu"
    description = (
        "in-context unlearning: RWKU's unlearning instruction prepended at eval, no training"
    )
    trains = False

    targets: list[str] = []

    def prepare_eval(self, data: Any) -> None:
        """Read the forget targets (synthkb ``extras["forget_names"]``, else forget subjects)."""
        names = list((getattr(data, "extras", None) or {}).get("forget_names") or [])
        if not names:
            names = list(dict.fromkeys(r.subject for r in data.forget if getattr(r, "subject", "")))
        self.targets = names

    def eval_prefix(self, record: Any) -> str:
        subject = getattr(record, "subject", "")
        if self.targets and subject not in self.targets:
            subject = join_names(self.targets)
        if not subject:
            raise ObliviateError(
                "icu: an eval record has no subject and the benchmark names no forget target; "
                "the instruction needs the subject to unlearn"
            )
        return icu_instruction(subject)
