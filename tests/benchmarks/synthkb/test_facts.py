"""synthkb.facts: each fact's wording, four wrong values of its type, the TOFU-style QA item."""

from __future__ import annotations

import random

import pytest

from obliviate.benchmarks.synthkb import facts as f
from obliviate.benchmarks.synthkb.templates import PA, Q
from obliviate.benchmarks.synthkb.world import ATTRIBUTES, World, generate_world


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(12, seed=2, holdout_people=3)


def test_person_facts_cover_every_attribute(world: World) -> None:
    p = world.people[0]
    got = f.person_facts(p, world)
    assert [x.attr for x in got] == list(ATTRIBUTES)
    assert [x.id for x in got] == [f"{p.id}-{a}" for a in ATTRIBUTES]
    assert {x.attr: x.value for x in got} == {a: getattr(p, a) for a in ATTRIBUTES}
    assert next(x for x in got if x.attr == "work").template == f"work_{p.work_kind}"
    for x in got:
        assert len(x.wrong) == f.NUM_PERTURBED == len(set(x.wrong)) and x.value not in x.wrong


def test_wrong_values_never_name_a_holdout_person(world: World) -> None:
    holdout = {p.name for p in world.holdout}
    for p in world.people:
        relation = next(x for x in f.person_facts(p, world) if x.attr == "relation")
        assert not set(relation.wrong) & holdout and p.name not in relation.wrong


def test_world_facts(world: World) -> None:
    got = f.world_facts(world)
    assert len(got) == len(world.countries) + 2 * len(world.organisations)
    city, country = next(iter(world.countries.items()))
    assert (got[0].id, got[0].subject, got[0].value) == ("w-city00-country", city, country)
    org = world.organisations[0]
    founded = next(x for x in got if x.id == "w-org00-founded")
    assert founded.subject == org.name and founded.value == str(org.founded)


def test_wrong_fills_from_the_pool_then_fresh_draws() -> None:
    rng = random.Random(0)
    assert sorted(f.wrong(rng, "a", ["a", "b", "c", "d", "e"])) == ["b", "c", "d", "e"]
    fresh = iter(["x", "b", "y", "z", "w"])
    got = f.wrong(rng, "a", ["a", "b"], make=lambda r: next(fresh), avoid=["y"])
    assert got == ("b", "x", "z", "w")
    with pytest.raises(ValueError):  # without ``make`` the pool must be large enough
        f.wrong(rng, "a", ["a", "b"])


def test_qa_item_words_the_fact_and_its_perturbations() -> None:
    fact = f.Fact("p01-profession", "Mara Kolb", "profession", "profession", "architect",
                  ("baker", "economist", "nurse", "pilot"))  # fmt: skip
    assert fact.text(Q) == "What is the profession of Mara Kolb?"
    assert fact.text(PA, "baker") == "Mara Kolb is a baker by profession."
    item = f.qa_item(fact, kind="neighbor")
    assert item.answer == "Mara Kolb works as an architect."
    assert item.paraphrased_answer == "Mara Kolb is an architect by profession."
    assert item.paraphrased_question == "What does Mara Kolb do for a living?"
    assert item.perturbed_answers[:2] == [
        "Mara Kolb is a baker by profession.",
        "Mara Kolb is an economist by profession.",
    ]
    assert (item.id, item.kind, item.subject) == ("p01-profession", "neighbor", "Mara Kolb")
    assert item.meta == {"attribute": "profession", "value": "architect"}
