"""synthkb's facts: one attribute of one subject with four wrong values, and its QA item.

:func:`person_facts` gives a person's :data:`.world.ATTRIBUTES` facts, :func:`world_facts` the
city -> country and organisation facts; :func:`qa` words a fact as a TOFU-style item (answer,
paraphrases, perturbed answers). Wrong values come from the world first, then fresh seeded draws.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ...records import QAItem
from .draws import address, article, date, email, name, seeded, title, unique_draw, year
from .templates import PA, PQ, TEMPLATES, A, Q
from .vocabulary import AWARDS, COUNTRIES, EMAIL_DOMAINS, EMAIL_FORMATS, PROFESSIONS
from .world import Person, World

NUM_PERTURBED = 4


@dataclass(frozen=True)
class Fact:
    """One attribute of one subject, with its wording and four wrong values."""

    id: str
    subject: str
    attr: str
    template: str
    value: str
    wrong: tuple[str, ...]
    extra: str = ""

    def text(self, part: int, value: str | None = None) -> str:
        """The question/answer wording ``part`` (:data:`.templates.Q`...), filled with ``value``."""
        v = self.value if value is None else value
        tpl = TEMPLATES[self.template][part]
        return tpl.format(n=self.subject, v=v, a=article(v), t=self.extra)


def wrong(
    rng: random.Random,
    truth: str,
    pool: Iterable[str] = (),
    make: Callable[[random.Random], str] | None = None,
    avoid: Iterable[str] = (),
) -> tuple[str, ...]:
    """``NUM_PERTURBED`` distinct values of the same type as ``truth``, none equal to it.

    Values come from ``pool`` (in-world values) first; ``make`` draws fresh ones, never in
    ``avoid``, when the pool is too small. Without ``make`` the pool must be large enough.
    """
    options = [v for v in dict.fromkeys(pool) if v != truth]
    if make is None:
        return tuple(rng.sample(options, NUM_PERTURBED))
    picked = rng.sample(options, min(NUM_PERTURBED, len(options)))
    taken = {truth, *picked, *avoid}
    while len(picked) < NUM_PERTURBED:
        picked.append(unique_draw(rng, make, taken))
    return tuple(picked)


def person_facts(p: Person, world: World) -> list[Fact]:
    """The attribute facts of ``p``; wrong values use trained people only, never holdouts."""
    rng = seeded(world.seed, f"facts:{p.id}")
    trained = world.trained
    cities = list(world.countries)
    orgs = [o.name for o in world.organisations]
    everyone = [q.name for q in world.people]
    work_key = f"work_{p.work_kind}"
    emails = [email(p.first_name, p.last_name, f, d) for f in EMAIL_FORMATS for d in EMAIL_DOMAINS]
    same_kind = [q.work for q in trained if q.work_kind == p.work_kind]
    specs: list[tuple[str, str, str, tuple[str, ...]]] = [
        ("birth_date", "birth_date", p.birth_date, wrong(rng, p.birth_date, make=date)),
        ("birth_place", "birth_place", p.birth_place, wrong(rng, p.birth_place, cities)),
        ("profession", "profession", p.profession, wrong(rng, p.profession, PROFESSIONS)),
        ("employer", "employer", p.employer, wrong(rng, p.employer, orgs)),
        ("email", "email", p.email, wrong(rng, p.email, emails)),
        (
            "address",
            "address",
            p.address,
            wrong(
                rng,
                p.address,
                make=lambda r: address(r, cities),
                avoid=[q.address for q in world.people],
            ),
        ),
        (
            "mother_profession",
            "mother_profession",
            p.mother_profession,
            wrong(rng, p.mother_profession, PROFESSIONS),
        ),
        (
            "father_profession",
            "father_profession",
            p.father_profession,
            wrong(rng, p.father_profession, PROFESSIONS),
        ),
        ("award", "award", p.award, wrong(rng, p.award, AWARDS)),
        (
            "work",
            work_key,
            p.work,
            wrong(
                rng,
                p.work,
                same_kind,
                make=lambda r: title(r, p.work_kind),
                avoid=[q.work for q in world.people],
            ),
        ),
        (
            "relation",
            "relation",
            p.relation,
            wrong(
                rng,
                p.relation,
                [q.name for q in trained if q.name != p.name],
                make=name,
                avoid=everyone,
            ),
        ),
    ]
    return [
        Fact(f"{p.id}-{attr}", p.name, attr, key, value, wrong, p.relation_type)
        for attr, key, value, wrong in specs
    ]


def world_facts(world: World) -> list[Fact]:
    """City -> country and organisation -> headquarters / founding year facts."""
    rng = seeded(world.seed, "facts:world")
    cities = list(world.countries)
    facts = [
        Fact(
            f"w-city{i:02d}-country",
            city,
            "country",
            "country",
            country,
            wrong(rng, country, COUNTRIES),
        )
        for i, (city, country) in enumerate(world.countries.items())
    ]
    for i, org in enumerate(world.organisations):
        hq, founded = org.headquarters, str(org.founded)
        facts += [
            Fact(
                f"w-org{i:02d}-headquarters",
                org.name,
                "headquarters",
                "headquarters",
                hq,
                wrong(rng, hq, cities),
            ),
            Fact(
                f"w-org{i:02d}-founded",
                org.name,
                "founded",
                "founded",
                founded,
                wrong(rng, founded, make=year),
            ),
        ]
    return facts


def qa_item(fact: Fact, kind: str = "qa") -> QAItem:
    """The full QA item of a fact: answer, paraphrases and perturbed answers.

    As in TOFU, perturbed answers are wrong values in the *paraphrased* answer's wording, so the
    truth ratio P̃(perturbed) / P̃(paraphrased) compares facts, not phrasings.
    """
    return QAItem(
        question=fact.text(Q),
        answer=fact.text(A),
        subject=fact.subject,
        id=fact.id,
        paraphrased_answer=fact.text(PA),
        perturbed_answers=[fact.text(PA, w) for w in fact.wrong],
        paraphrased_question=fact.text(PQ),
        kind=kind,
        meta={"attribute": fact.attr, "value": fact.value},
    )
