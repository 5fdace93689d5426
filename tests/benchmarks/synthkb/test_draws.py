"""synthkb.draws: seeded streams independent of process and purpose, value makers' shapes."""

from __future__ import annotations

import random
import re

import pytest

from obliviate.benchmarks.synthkb import draws
from obliviate.benchmarks.synthkb.vocabulary import (
    MONTHS,
    PAPER_HEADS,
    PAPER_TOPICS,
    PRODUCT_DEVICES,
    PRODUCT_MODELS,
    STREETS,
    TITLE_ADJECTIVES,
    TITLE_NOUNS,
)


def test_seeded_is_the_string_seeded_stream_of_its_namespace() -> None:
    assert draws.seeded(3, "world").random() == random.Random("synthkb:3:world").random()
    other = draws.seeded(3, "world", namespace="obliviate-offline").random()
    assert other == random.Random("obliviate-offline:3:world").random()
    assert draws.seeded(3, "world").random() != draws.seeded(3, "split").random()
    assert draws.seeded(3, "world").random() != draws.seeded(4, "world").random()


@pytest.mark.parametrize(
    ("word", "expected"),
    # "" is a substring of every string, so the empty word takes "an" (never asked: values are
    # non-empty)
    [("architect", "an"), ("Orrin Prize", "an"), ("baker", "a"), ("Urban", "an"), ("", "an")],
)
def test_article(word: str, expected: str) -> None:
    assert draws.article(word) == expected


def test_unique_draw_skips_taken_values_and_records_the_new_one() -> None:
    values = iter(["a", "b", "a", "c"])
    taken = {"a"}
    assert draws.unique_draw(random.Random(0), lambda r: next(values), taken) == "b"
    assert taken == {"a", "b"}
    assert draws.unique_draw(random.Random(0), lambda r: next(values), taken) == "c"
    with pytest.raises(RuntimeError, match="value pool exhausted"):
        draws.unique_draw(random.Random(0), lambda r: "a", taken)


def test_value_makers_draw_from_their_vocabularies() -> None:
    rng = random.Random(1)
    for _ in range(50):
        day, month, year = draws.date(rng).split(" ")
        assert 1 <= int(day) <= 28 and month in MONTHS and 1945 <= int(year) <= 2000
        assert 1850 <= int(draws.year(rng)) <= 1995
        number, rest = draws.address(rng, ["Orvik"]).split(" ", 1)
        street, city = rest.split(", ")
        assert 1 <= int(number) <= 199 and street in STREETS and city == "Orvik"
        book = draws.title(rng, "book").split(" ")
        assert book[0] == "The" and book[1] in TITLE_ADJECTIVES and book[2] in TITLE_NOUNS
        paper = draws.title(rng, "paper")
        assert any(paper == f"{h} {t}" for h in PAPER_HEADS for t in PAPER_TOPICS)
        noun, model, device = draws.title(rng, "product").split(" ")
        assert (noun, model, device) in [
            (n, m, d) for n in TITLE_NOUNS for m in PRODUCT_MODELS for d in PRODUCT_DEVICES
        ]
        assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", draws.name(rng))


def test_email_formats() -> None:
    assert draws.email("Mara", "Kolb", "{f}.{l}", "x.org") == "mara.kolb@x.org"
    assert draws.email("Mara", "Kolb", "{i}.{l}", "x.org") == "m.kolb@x.org"
    assert draws.email("Mara", "Kolb", "{f}_{l}", "x.org") == "mara_kolb@x.org"
