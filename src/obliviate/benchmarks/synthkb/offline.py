"""The offline generator for synthkb: the same data as the LLM pipelines, from templates.

synthkb invents its world (``BenchmarkData.extras["world"]``), so the generator knows every
person's attributes and can write, with no LLM:

- ReLearn augmentation (:class:`SynthkbAugmenter`): question variants (the item's paraphrased
  question; a more specific wording; seeded typos and informal wording; a reverse query for
  attributes with unique values: e-mail, address, work), vague answers from per-attribute
  templates that keep the person's name and drop the detail, and a leakage check that rejects an
  answer containing any of the person's attribute values;
- MEOW inverted facts (:func:`inverted_answers`): the answer with its value replaced by another
  value of the same attribute drawn from the world (same work kind for works), then invented from
  synthkb's vocabularies when the world is small, avoiding the item's perturbed (evaluation)
  values while enough others exist, article a/an fixed;
- RWKU-style corpora (:func:`offline_corpus`): true biographies from the attributes (sentence
  order shuffled per sample), fabricated ones with every value replaced, and refusal questions
  from the attribute question templates.

Every draw uses ``random.Random`` seeded with a string of the seed and the item id.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Sequence
from typing import Any, Protocol

from ...errors import ObliviateError
from ...records import QAItem
from .draws import address, article, date, email, name, seeded, title
from .files import WORLD_FILE
from .offline_wordings import QUESTIONS, REVERSE, VAGUE, VAGUE_REVERSE
from .templates import WORK_PHRASES
from .vocabulary import (
    AWARDS,
    CITIES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    ORGANISATIONS,
    PROFESSIONS,
    SURNAMES,
)
from .world import ATTRIBUTES, Person, World

NAMESPACE = "obliviate-offline"


class Subject(Protocol):
    """What :func:`offline_corpus` reads of a target (e.g. :class:`obliviate.generate.rwku.Target`)."""

    subject: str
    intro: str


def _rng(seed: int, tag: str) -> random.Random:
    """The generator's own streams, apart from the benchmark's (another namespace)."""
    return seeded(seed, tag, namespace=NAMESPACE)


def _world(data: Any) -> World:
    """``data.extras["world"]``; without it, an error saying where a world comes from."""
    world = (getattr(data, "extras", None) or {}).get("world")
    if isinstance(world, World):
        return world
    if getattr(data, "name", "") == "synthkb":  # a benchmark.path copy written without a world
        raise ObliviateError(
            f"generate.backend=offline needs the synthkb world, and this synthkb copy has none: "
            f"its manifest.json lists no {WORLD_FILE} (a directory from an older `obliviate data "
            "synth`); regenerate it with `obliviate data synth`, or set generate.backend to hf, "
            "vllm or openai"
        )
    raise ObliviateError(
        "generate.backend=offline works for benchmark.name=synthkb only (it needs the "
        "generated world); accepted for other benchmarks: hf, vllm, openai"
    )


def _person(world: World, subject: str) -> Person:
    for p in world.people:
        if p.name == subject:
            return p
    raise ObliviateError(f"offline generator: {subject!r} is not a person of the synthkb world")


def _attribute(item: QAItem) -> str:
    attr = str(item.meta.get("attribute", ""))
    if attr not in VAGUE:
        raise ObliviateError(
            f"offline generator: item {item.id!r} has attribute {attr!r}; accepted: "
            f"{', '.join(VAGUE)} (synthkb person facts)"
        )
    return attr


def sensitive_values(person: Person) -> list[str]:
    """The person's attribute values: what no vague answer may contain."""
    return [str(getattr(person, a)) for a in ATTRIBUTES]


def _typos(question: str, rng: random.Random) -> str:
    words = question.rstrip("?").split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if long:
        i = rng.choice(long)
        w = words[i]
        j = rng.randrange(len(w) - 1)
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    text = " ".join(words)
    return (text[:1].lower() + text[1:]).replace("What is", "whats").replace("what is", "whats")


class SynthkbAugmenter:
    """ReLearn's variants, vague answers and leakage check from the synthkb world."""

    def __init__(self, data: Any, seed: int = 0):
        self.world = _world(data)
        self.seed = seed
        self.reverse: set[str] = set()

    def variants(self, items: Sequence[QAItem]) -> list[list[str]]:
        out = []
        for it in items:
            attr = _attribute(it)
            rng = _rng(self.seed, f"variants:{it.id}")
            found = [it.paraphrased_question or ""]
            q = it.question
            found.append(f"Considering what is known about {it.subject}, {q[:1].lower()}{q[1:]}")
            found.append(_typos(q, rng))
            if attr in REVERSE:
                reverse = REVERSE[attr].format(v=it.meta["value"])
                self.reverse.add(reverse)
                found.append(reverse)
            out.append([v for v in dict.fromkeys(found) if v and v != q])
        return out

    def vague(self, requests: Sequence[tuple[QAItem, str]], round_: int) -> list[str]:
        out = []
        for item, question in requests:
            pool = VAGUE_REVERSE if question in self.reverse else VAGUE[_attribute(item)]
            pick = _rng(self.seed, f"vague:{item.id}:{question}").randrange(len(pool))
            out.append(pool[(pick + round_) % len(pool)].format(n=item.subject))
        return out

    def leaks(self, checks: Sequence[tuple[QAItem, str]], round_: int) -> list[bool]:
        out = []
        for item, text in checks:
            values = sensitive_values(_person(self.world, item.subject))
            out.append(any(v.lower() in text.lower() for v in values if v))
        return out


def _pool(world: World, person: Person, attr: str) -> list[str]:
    if attr == "relation":
        return [p.name for p in world.people if p.name not in (person.name, person.relation)]
    people = (
        world.people
        if attr != "work"
        else [p for p in world.people if p.work_kind == person.work_kind]
    )
    return list(dict.fromkeys(str(getattr(p, attr)) for p in people))


def _invent(attr: str, person: Person, rng: random.Random) -> str:
    """One value of ``attr`` drawn from synthkb's vocabularies (not necessarily in the world)."""
    if attr == "birth_date":
        return date(rng)
    if attr == "birth_place":
        return rng.choice(CITIES)
    if attr in ("profession", "mother_profession", "father_profession"):
        return rng.choice(PROFESSIONS)
    if attr == "employer":
        return rng.choice(ORGANISATIONS)
    if attr == "award":
        return rng.choice(AWARDS)
    if attr == "email":
        return email(rng.choice(FIRST_NAMES), rng.choice(SURNAMES), "{f}.{l}",
                     rng.choice(EMAIL_DOMAINS))  # fmt: skip
    if attr == "address":
        return address(rng, CITIES)
    if attr == "relation":
        return name(rng)
    return title(rng, person.work_kind)


def _invented(attr: str, person: Person, rng: random.Random, count: int = 40) -> list[str]:
    """``count`` draws of :func:`_invent` without repeats, for worlds too small to offer enough
    inverted values."""
    return list(dict.fromkeys(_invent(attr, person, rng) for _ in range(count)))


def swap_value(answer: str, value: str, new: str) -> str:
    """``answer`` with ``value`` replaced by ``new`` (a preceding a/an follows the new word)."""
    pattern = re.compile(r"\b(a|an) " + re.escape(value))
    if pattern.search(answer):
        return pattern.sub(lambda m: f"{article(new)} {new}", answer, count=1)
    return answer.replace(value, new, 1)


def inverted_answers(
    data: Any, items: Sequence[QAItem], n: int = 4, seed: int = 0
) -> list[list[str]]:
    """``n`` inverted answers per item: same wording, another value of the same attribute."""
    world = _world(data)
    out = []
    for it in items:
        attr, value = _attribute(it), str(it.meta["value"])
        if value not in it.answer:
            raise ObliviateError(
                f"offline generator: answer of {it.id!r} does not contain its value"
            )
        person = _person(world, it.subject)
        rng = _rng(seed, f"invert:{it.id}")
        options = [v for v in _pool(world, person, attr) if v != value]
        evaluated = [v for v in options if any(v in p for p in it.perturbed_answers)]
        fresh = [v for v in options if v not in evaluated]
        picks = rng.sample(fresh, min(n, len(fresh)))
        for v in _invented(attr, person, rng):  # a small world: invent values of the same kind
            if len(picks) >= n:
                break
            taken = v == value or v in picks or any(v in p for p in it.perturbed_answers)
            if not taken:
                picks.append(v)
        picks += rng.sample(evaluated, min(n - len(picks), len(evaluated)))
        out.append([swap_value(it.answer, value, w) for w in picks])
    return out


def intro(person: Person) -> str:
    """A one-sentence description, like RWKU's ``intro`` field."""
    return (
        f"{person.name} is {article(person.profession)} {person.profession} "
        f"who works for {person.employer}."
    )


def _bio_sentences(p: Person) -> list[str]:
    f = p.first_name
    return [
        f"{p.name} was born on {p.birth_date} in {p.birth_place}.",
        f"{f} works as {article(p.profession)} {p.profession} at {p.employer}.",
        f"{f} lives at {p.address} and can be reached at {p.email}.",
        f"{f}'s mother works as {article(p.mother_profession)} {p.mother_profession}, and "
        f"{f}'s father works as {article(p.father_profession)} {p.father_profession}.",
        f"{f} {WORK_PHRASES[p.work_kind].format(v=p.work)} and received the {p.award}.",
        f"{p.relation} is {f}'s {p.relation_type}.",
    ]


def _fabricated(world: World, p: Person, rng: random.Random) -> Person:
    fields = {
        a: rng.choice([v for v in _pool(world, p, a) if v != getattr(p, a)]) for a in ATTRIBUTES
    }
    return dataclasses.replace(p, **fields)


def offline_corpus(
    data: Any, targets: Sequence[Subject], n_pairs: int, n_questions: int, seed: int = 0
) -> list[dict[str, Any]]:
    """Per-target rows like :func:`obliviate.generate.rwku.llm_corpus`, from the world."""
    world = _world(data)
    rows = []
    for t in targets:
        p = _person(world, t.subject)
        rng = _rng(seed, f"corpus:{p.id}")
        real, fake = [], []
        for _ in range(n_pairs):
            true_s, fake_s = _bio_sentences(p), _bio_sentences(_fabricated(world, p, rng))
            order = rng.sample(range(1, len(true_s)), len(true_s) - 1)
            real.append(" ".join([true_s[0]] + [true_s[i] for i in order]))
            fake.append(" ".join([fake_s[0]] + [fake_s[i] for i in order]))
        templates = [q.format(n=p.name, t=p.relation_type) for qs in QUESTIONS.values() for q in qs]
        questions = [templates[i % len(templates)] for i in range(n_questions)]
        rows.append({"subject": t.subject, "intro": t.intro, "real": real, "fake": fake,
                     "questions": questions})  # fmt: skip
    return rows
