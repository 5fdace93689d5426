"""synthkb's world: people, cities and organisations, invented from a seed.

:func:`generate_world` draws ``num_people`` trained people plus held-out ones (never trained on:
the MIA non-members), each with the :data:`ATTRIBUTES` asked about, and the cities (-> country)
and organisations (-> headquarters, founding year) the world facts ask about.
:func:`world_to_dict` / :func:`world_from_dict` are its JSON form (``world.json`` of a copy).
"""

from __future__ import annotations

import random
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from ...errors import ObliviateError
from .draws import address, date, email, seeded, title, unique_draw, year
from .vocabulary import (
    AWARDS,
    CITIES,
    COUNTRIES,
    EMAIL_DOMAINS,
    EMAIL_FORMATS,
    FIRST_NAMES,
    ORGANISATIONS,
    PROFESSIONS,
    RELATION_TYPES,
    SURNAMES,
    WORK_KINDS,
)

ATTRIBUTES = (
    "birth_date", "birth_place", "profession", "employer", "email", "address",
    "mother_profession", "father_profession", "award", "work", "relation",
)  # fmt: skip
MAX_PEOPLE = 200
WORLD_CITIES = 8
WORLD_ORGS = 6


@dataclass(frozen=True)
class Organisation:
    """An employer of the world, with the facts asked about it."""

    name: str
    headquarters: str
    founded: int


@dataclass(frozen=True)
class Person:
    """A fictitious person; ``holdout`` people are never trained on (MIA non-members)."""

    id: str
    name: str
    first_name: str
    last_name: str
    birth_date: str
    birth_place: str
    profession: str
    employer: str
    email: str
    address: str
    mother_profession: str
    father_profession: str
    award: str
    work: str
    work_kind: str
    relation: str
    relation_type: str
    holdout: bool = False


@dataclass
class World:
    """Everything ``generate_world`` invents: people, city -> country, organisations."""

    seed: int
    people: list[Person]
    countries: dict[str, str]
    organisations: list[Organisation]

    @property
    def trained(self) -> list[Person]:
        """People the target model learns about."""
        return [p for p in self.people if not p.holdout]

    @property
    def holdout(self) -> list[Person]:
        """Held-out people, never in any training split."""
        return [p for p in self.people if p.holdout]


def pick_names(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """Unique (first, last) pairs, preferring unused first names and surnames.

    Greedy in a seeded order, so the first ``k`` names do not depend on ``count``.
    """
    pairs = [(f, s) for f in FIRST_NAMES for s in SURNAMES]
    rng.shuffle(pairs)
    chosen: list[tuple[str, str]] = []
    firsts: set[str] = set()
    lasts: set[str] = set()
    for first, last in pairs:
        if first not in firsts and last not in lasts:
            chosen.append((first, last))
            firsts.add(first)
            lasts.add(last)
    chosen = chosen[:count]
    fresh = set(chosen)
    chosen += [p for p in pairs if p not in fresh][: count - len(chosen)]
    return chosen


def generate_world(num_people: int = 40, seed: int = 0, holdout_people: int = 4) -> World:
    """Invent ``num_people`` trained people plus ``holdout_people`` held-out ones.

    Names, e-mails, addresses and work titles are unique; each person's relation is another
    trained person. Trained people do not depend on ``holdout_people``.
    """
    if num_people < 2:
        raise ObliviateError(f"synthkb: num_people is {num_people}; accepted: at least 2")
    if holdout_people < 0:
        raise ObliviateError(f"synthkb: holdout_people is {holdout_people}; accepted: 0 or more")
    if num_people + holdout_people > MAX_PEOPLE:
        raise ObliviateError(
            f"synthkb: num_people + holdout_people is {num_people + holdout_people}; "
            f"accepted: at most {MAX_PEOPLE}"
        )
    rng = seeded(seed, "world")
    cities = rng.sample(CITIES, WORLD_CITIES)
    countries = {city: rng.choice(COUNTRIES) for city in cities}
    orgs = [
        Organisation(name, rng.choice(cities), int(year(rng)))
        for name in rng.sample(ORGANISATIONS, WORLD_ORGS)
    ]
    emails: set[str] = set()
    addresses: set[str] = set()
    titles: set[str] = set()
    rows: list[dict[str, Any]] = []
    for i, (first, last) in enumerate(pick_names(rng, num_people + holdout_people)):
        holdout = i >= num_people
        profession, mother, father = rng.sample(PROFESSIONS, 3)
        kind = rng.choice(WORK_KINDS)
        rows.append(
            {
                "id": f"h{i - num_people:02d}" if holdout else f"p{i:02d}",
                "name": f"{first} {last}",
                "first_name": first,
                "last_name": last,
                "birth_date": date(rng),
                "birth_place": rng.choice(cities),
                "profession": profession,
                "employer": rng.choice(orgs).name,
                "email": unique_draw(
                    rng,
                    lambda r, f=first, s=last: email(
                        f, s, r.choice(EMAIL_FORMATS), r.choice(EMAIL_DOMAINS)
                    ),
                    emails,
                ),
                "address": unique_draw(rng, lambda r: address(r, cities), addresses),
                "mother_profession": mother,
                "father_profession": father,
                "award": rng.choice(AWARDS),
                "work": unique_draw(rng, lambda r, k=kind: title(r, k), titles),
                "work_kind": kind,
                "holdout": holdout,
            }
        )
    rel_rng = seeded(seed, "relations")
    trained = rows[:num_people]
    for row in rows:
        other = rel_rng.choice([t for t in trained if t["name"] != row["name"]])
        row["relation"] = other["name"]
        same_employer = other["employer"] == row["employer"]
        row["relation_type"] = "colleague" if same_employer else rel_rng.choice(RELATION_TYPES)
    return World(seed, [Person(**row) for row in rows], countries, orgs)


def world_to_dict(world: World) -> dict[str, Any]:
    """The JSON form of ``world``: seed, people, city -> country and organisations, in order."""
    return {
        "seed": world.seed,
        "people": [asdict(p) for p in world.people],
        "countries": dict(world.countries),
        "organisations": [asdict(o) for o in world.organisations],
    }


def _rows(cls: type, rows: Any, where: str) -> list[Any]:
    """``cls(**row)`` for each row; a missing or unknown field is named with ``where``."""
    if not isinstance(rows, list):
        raise ObliviateError(f"{where}: expected a list of {cls.__name__} objects")
    names = {f.name for f in fields(cls)}
    required = {f.name for f in fields(cls) if f.default is MISSING}
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ObliviateError(f"{where}[{i}]: expected an object, got {type(row).__name__}")
        problems = []
        if missing := sorted(required - set(row)):
            problems.append(f"lacks field(s) {', '.join(missing)}")
        if unknown := sorted(set(row) - names):
            problems.append(f"has unknown field(s) {', '.join(unknown)}")
        if problems:
            raise ObliviateError(f"{where}[{i}]: {cls.__name__} {'; '.join(problems)}")
        out.append(cls(**row))
    return out


def world_from_dict(data: Any, where: str = "world") -> World:
    """The World of :func:`world_to_dict`'s form; errors name ``where`` and the field."""
    if not isinstance(data, dict):
        raise ObliviateError(f"{where}: expected a JSON object, got {type(data).__name__}")
    missing = [k for k in ("seed", "people", "countries", "organisations") if k not in data]
    if missing:
        raise ObliviateError(f"{where}: lacks field(s) {', '.join(missing)}")
    if not isinstance(data["countries"], dict):
        raise ObliviateError(f"{where}: countries must map city -> country")
    return World(
        int(data["seed"]),
        _rows(Person, data["people"], f"{where}: people"),
        {str(k): str(v) for k, v in data["countries"].items()},
        _rows(Organisation, data["organisations"], f"{where}: organisations"),
    )
