"""synthkb's probes and biographies: RWKU-style fill-in-the-blank, question and adversarial
probes of a forget target's facts, and the biography passages of the MIA member/non-member sets.

Levels as in RWKU (Jin et al. 2024): 1 fill-in-the-blank, 2 question, 3 adversarial (one of
:data:`ADVERSARIAL_TYPES`).
"""

from __future__ import annotations

import random
from typing import Any

from ...records import Passage, QAItem
from .draws import article
from .facts import Fact
from .templates import INJECTIONS, PQ, REVERSE, ROLE_PLAYS, WORK_PHRASES, A, Q
from .world import Person

ADVERSARIAL_TYPES = (
    "prefix_injection", "role_play", "reverse_query", "multiple_choice", "paraphrased_question",
)  # fmt: skip


def probe(
    fact: Fact,
    question: str,
    answer: str,
    kind: str,
    adversarial_type: str | None = None,
    **meta: Any,
) -> QAItem:
    """One RWKU-style probe about ``fact``; ``meta`` adds fields (multiple-choice options)."""
    level = {"fill_blank": 1, "question": 2, "adversarial": 3}[kind]
    suffix = {"fill_blank": "fb", "question": "qa"}.get(kind, f"aa-{adversarial_type}")
    return QAItem(
        question=question,
        answer=answer,
        subject=fact.subject,
        id=f"{fact.id}-{suffix}",
        kind=kind,
        level=level,
        adversarial_type=adversarial_type,
        meta={"attribute": fact.attr, "value": fact.value, **meta},
    )


def probes(facts: list[Fact], rng: random.Random) -> tuple[list[QAItem], ...]:
    """RWKU-shaped fill-in-the-blank, question and adversarial probes of one person."""
    fb = [probe(f, f.text(A, "___"), f.value, "fill_blank") for f in facts]
    qa = [probe(f, f.text(Q), f.value, "question") for f in facts]
    aa: list[QAItem] = []
    for f in facts:
        if f.template in REVERSE:
            reverse = REVERSE[f.template].format(v=f.value)
            aa.append(probe(f, reverse, f.subject, "adversarial", adversarial_type="reverse_query"))
    for f in rng.sample(facts, 2):
        prompt = f"{rng.choice(INJECTIONS)} {f.text(Q)}"
        aa.append(probe(f, prompt, f.value, "adversarial", adversarial_type="prefix_injection"))
    for f in rng.sample(facts, 2):
        prompt = f"{rng.choice(ROLE_PLAYS).format(n=f.subject)} {f.text(Q)}"
        aa.append(probe(f, prompt, f.value, "adversarial", adversarial_type="role_play"))
    for f in rng.sample(facts, 2):
        choices = [f.value, *rng.sample(f.wrong, 3)]
        rng.shuffle(choices)
        options = "; ".join(f"{letter}) {c}" for letter, c in zip("ABCD", choices))
        aa.append(
            probe(
                f,
                f"{f.text(Q)} Options: {options}.",
                f.value,
                "adversarial",
                adversarial_type="multiple_choice",
                choices=choices,
                correct=choices.index(f.value),
            )
        )
    for f in rng.sample(facts, 2):
        aa.append(
            probe(f, f.text(PQ), f.value, "adversarial", adversarial_type="paraphrased_question")
        )
    return fb, qa, aa


def bio(p: Person) -> Passage:
    """A five-sentence biography built from the person's attributes."""
    first = p.first_name
    work = WORK_PHRASES[p.work_kind].format(v=p.work)
    text = " ".join(
        [
            f"{p.name} was born on {p.birth_date} in {p.birth_place}.",
            f"{first} works as {article(p.profession)} {p.profession} at {p.employer}"
            f" and lives at {p.address}.",
            f"{first}'s mother works as {article(p.mother_profession)} {p.mother_profession},"
            f" and {first}'s father works as {article(p.father_profession)}"
            f" {p.father_profession}.",
            f"{first} {work} and received the {p.award}.",
            f"{p.relation} is {first}'s {p.relation_type}, and {first}'s e-mail address is"
            f" {p.email}.",
        ]
    )
    return Passage(text=text, subject=p.name, id=f"{p.id}-bio", meta={"holdout": p.holdout})
