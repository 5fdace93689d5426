"""synthkb.probes: RWKU-style probes of every level and adversarial type, biographies."""

from __future__ import annotations

import random

import pytest

from obliviate.benchmarks.synthkb import probes as pr
from obliviate.benchmarks.synthkb.facts import person_facts
from obliviate.benchmarks.synthkb.world import World, generate_world
from obliviate.records import QAItem


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(12, seed=4)


def test_probes_cover_every_level_and_adversarial_type(world: World) -> None:
    facts = person_facts(world.people[0], world)
    fb, qa, aa = pr.probes(facts, random.Random(0))
    assert [r.id for r in fb] == [f"{x.id}-fb" for x in facts]
    assert [r.id for r in qa] == [f"{x.id}-qa" for x in facts]
    assert {r.adversarial_type for r in aa} == set(pr.ADVERSARIAL_TYPES)
    for r in fb:
        assert r.kind == "fill_blank" and r.level == 1 and "___" in r.question
    for r in qa:
        assert r.kind == "question" and r.level == 2 and r.answer == r.meta["value"]
    for r in aa:
        assert isinstance(r, QAItem) and r.kind == "adversarial" and r.level == 3
        assert r.id.endswith(f"-aa-{r.adversarial_type}")
        if r.adversarial_type == "reverse_query":
            assert r.answer == r.subject and r.subject not in r.question
        else:
            assert r.answer == r.meta["value"]
        if r.adversarial_type == "multiple_choice":
            assert len(r.meta["choices"]) == 4 and r.meta["choices"][r.meta["correct"]] == r.answer
    reverse = {r.meta["attribute"] for r in aa if r.adversarial_type == "reverse_query"}
    assert reverse == {"email", "address", "work"}
    again = pr.probes(facts, random.Random(0))
    assert [r.to_dict() for r in again[2]] == [r.to_dict() for r in aa]


def test_biography_names_every_attribute(world: World) -> None:
    p, h = world.trained[0], world.holdout[0]
    passage = pr.bio(p)
    assert passage.text.startswith(f"{p.name} was born on {p.birth_date} in {p.birth_place}.")
    for value in (p.profession, p.employer, p.address, p.email, p.work, p.award, p.relation):
        assert value in passage.text
    assert (passage.id, passage.subject, passage.meta) == (
        f"{p.id}-bio",
        p.name,
        {"holdout": False},
    )
    assert pr.bio(h).meta == {"holdout": True}
