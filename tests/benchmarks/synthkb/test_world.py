"""synthkb.world: the invented world's shape, its limits and its JSON form."""

from __future__ import annotations

import json

import pytest

from obliviate.benchmarks.synthkb import world as w
from obliviate.benchmarks.synthkb.draws import seeded
from obliviate.errors import ObliviateError


@pytest.fixture(scope="module")
def world() -> w.World:
    return w.generate_world(40, seed=0, holdout_people=4)


def test_world_shape(world: w.World) -> None:
    assert len(world.trained) == 40 and len(world.holdout) == 4
    assert [p.id for p in world.people[:2]] == ["p00", "p01"]
    assert [p.id for p in world.holdout] == ["h00", "h01", "h02", "h03"]
    names = [p.name for p in world.people]
    assert len(set(names)) == len(names)
    for attr in ("email", "address", "work"):
        values = [getattr(p, attr) for p in world.people]
        assert len(set(values)) == len(values), attr
    trained = {p.name for p in world.trained}
    assert all(p.relation in trained and p.relation != p.name for p in world.people)
    assert len(world.countries) == w.WORLD_CITIES and len(world.organisations) == w.WORLD_ORGS
    assert {p.birth_place for p in world.people} <= set(world.countries)
    assert {p.employer for p in world.people} <= {o.name for o in world.organisations}
    for p in world.people:
        employer = next(q.employer for q in world.people if q.name == p.relation)
        assert (p.relation_type == "colleague") == (employer == p.employer)


def test_trained_people_do_not_depend_on_the_holdout_count(world: w.World) -> None:
    fewer = w.generate_world(40, seed=0, holdout_people=1)
    assert fewer.people[:40] == world.people[:40]
    assert w.generate_world(40, seed=1).people != world.people


def test_first_names_do_not_depend_on_the_count() -> None:
    five = w.pick_names(seeded(0, "names"), 5)
    assert w.pick_names(seeded(0, "names"), 9)[:5] == five
    assert len(set(w.pick_names(seeded(0, "names"), w.MAX_PEOPLE))) == w.MAX_PEOPLE


@pytest.mark.parametrize(
    ("people", "holdout", "message"),
    [(1, 4, "num_people is 1; accepted: at least 2"), (10, -1, "holdout_people is -1"),
     (198, 3, "is 201; accepted: at most 200")],
)  # fmt: skip
def test_world_limits(people: int, holdout: int, message: str) -> None:
    with pytest.raises(ObliviateError, match=message):
        w.generate_world(people, 0, holdout)


def test_json_form_round_trips(world: w.World) -> None:
    text = json.dumps(w.world_to_dict(world))
    back = w.world_from_dict(json.loads(text))
    assert back == world
    assert (
        back.trained == world.trained
        and back.organisations[0].founded == world.organisations[0].founded
    )


def test_json_form_errors_name_the_field(world: w.World) -> None:
    data = w.world_to_dict(world)
    with pytest.raises(ObliviateError, match=r"^kb/world.json: lacks field\(s\) countries$"):
        w.world_from_dict({k: v for k, v in data.items() if k != "countries"}, "kb/world.json")
    person = {k: v for k, v in data["people"][3].items() if k != "email"}
    bad = {**data, "people": [*data["people"][:3], {**person, "shoe": 9}]}
    with pytest.raises(
        ObliviateError,
        match=r"people\[3\]: Person lacks field\(s\) email; has unknown field\(s\) shoe",
    ):
        w.world_from_dict(bad, "kb/world.json")
    with pytest.raises(ObliviateError, match="organisations: expected a list"):
        w.world_from_dict({**data, "organisations": {}}, "kb/world.json")
    with pytest.raises(ObliviateError, match="expected a JSON object, got list"):
        w.world_from_dict([], "kb/world.json")
