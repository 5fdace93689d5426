"""Seeded draws of synthkb values: one ``random.Random`` stream per purpose, value makers.

Every draw goes through :func:`seeded` (a ``random.Random`` seeded with the string
``"<namespace>:<seed>:<tag>"``, which Python hashes with SHA-512), never the global RNG and never
``hash()``, so one seed gives the same values in every process. The makers each draw one value of
an attribute's type from :mod:`.vocabulary`; the world, the wrong answers and the offline
generator's invented values share them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from .vocabulary import (
    FIRST_NAMES,
    MONTHS,
    PAPER_HEADS,
    PAPER_TOPICS,
    PRODUCT_DEVICES,
    PRODUCT_MODELS,
    STREETS,
    SURNAMES,
    TITLE_ADJECTIVES,
    TITLE_NOUNS,
)

POOL_TRIES = 10_000


def seeded(seed: int, tag: str, namespace: str = "synthkb") -> random.Random:
    """An independent stream per purpose; str seeds are hashed with SHA-512, not ``hash()``."""
    return random.Random(f"{namespace}:{seed}:{tag}")


def article(word: str) -> str:
    """The indefinite article of ``word`` by its first letter: ``an`` before a vowel, else ``a``."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def unique_draw(rng: random.Random, make: Callable[[random.Random], str], taken: set[str]) -> str:
    """Draw ``make(rng)`` until it is not in ``taken``; record and return it."""
    for _ in range(POOL_TRIES):
        value = make(rng)
        if value not in taken:
            taken.add(value)
            return value
    raise RuntimeError("synthkb: value pool exhausted")


def date(rng: random.Random) -> str:
    """A birth date ``"<day> <Month> <year>"``, day 1-28, year 1945-2000."""
    return f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {rng.randint(1945, 2000)}"


def year(rng: random.Random) -> str:
    """A founding year, 1850-1995."""
    return str(rng.randint(1850, 1995))


def address(rng: random.Random, cities: Sequence[str]) -> str:
    """A home address ``"<number> <street>, <city>"``, number 1-199."""
    return f"{rng.randint(1, 199)} {rng.choice(STREETS)}, {rng.choice(cities)}"


def email(first: str, last: str, fmt: str, domain: str) -> str:
    """An e-mail address: ``fmt`` (``{f}``/``{l}`` lower-case names, ``{i}`` initial) @ domain."""
    local = fmt.format(f=first.lower(), l=last.lower(), i=first[0].lower())
    return f"{local}@{domain}"


def title(rng: random.Random, kind: str) -> str:
    """The title of a work of ``kind``: book, paper, else product."""
    if kind == "book":
        return f"The {rng.choice(TITLE_ADJECTIVES)} {rng.choice(TITLE_NOUNS)}"
    if kind == "paper":
        return f"{rng.choice(PAPER_HEADS)} {rng.choice(PAPER_TOPICS)}"
    noun, model = rng.choice(TITLE_NOUNS), rng.choice(PRODUCT_MODELS)
    return f"{noun} {model} {rng.choice(PRODUCT_DEVICES)}"


def name(rng: random.Random) -> str:
    """A full name ``"<first> <surname>"`` (not necessarily unique)."""
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
