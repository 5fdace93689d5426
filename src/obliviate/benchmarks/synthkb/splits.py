"""synthkb's splits: the forget targets, their neighbours, and the benchmark :func:`build`.

The forget targets' facts are split into forget (train) and forget-val items; the other trained
people's facts are the retain set, a seeded sample of at most :data:`RETAIN_EVAL_CAP` of them
(neighbours excluded) the retain evaluation set; held-out people give the MIA non-members.
"""

from __future__ import annotations

import difflib

from ...errors import ObliviateError
from ...records import BenchmarkData, EvalSet, QAItem, Record
from .draws import seeded
from .facts import person_facts, qa_item, world_facts
from .probes import bio, probes
from .world import Person, generate_world

RETAIN_EVAL_CAP = 60


def forget_targets(
    trained: list[Person], names: list[str] | None, fraction: float, seed: int
) -> list[Person]:
    """The forget targets, in world order: the named people or a seeded fraction.

    The seeded fraction is drawn first from people whom no trained person's relation names, so
    that no retain fact mentions a forget target: the retain model then knows the forget targets
    exactly as little as the held-out people, and its forget-vs-holdout MIA AUC is ≈ 0.5 (a
    target named in a neighbour's fact has a familiar name and a lower loss). Only when too few
    such people exist are the others drawn from.
    """
    if names is not None:
        known = [p.name for p in trained]
        if not names:
            raise ObliviateError("synthkb: forget_names is empty; give at least one name")
        for name in names:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ObliviateError(
                    f"synthkb: forget_names has {name!r}, who is not a trained person; "
                    f"accepted names include {', '.join(known[:5])}{hint}"
                )
        wanted = set(names)
    else:
        if not 0.0 < fraction < 1.0:
            raise ObliviateError(
                f"synthkb: forget_fraction is {fraction}; accepted: 0 < forget_fraction < 1"
            )
        count = max(1, round(fraction * len(trained)))
        rng = seeded(seed, "forget")
        named = {p.relation for p in trained}
        unnamed = [p for p in trained if p.name not in named]
        picked = rng.sample(unnamed, min(count, len(unnamed)))
        rest = [p for p in trained if p.name in named]
        picked += rng.sample(rest, count - len(picked))
        wanted = {p.name for p in picked}
    if len(wanted) >= len(trained):
        raise ObliviateError(
            f"synthkb: all {len(trained)} trained people would be forget targets; leave at "
            "least one to retain (lower forget_fraction or shorten forget_names)"
        )
    return [p for p in trained if p.name in wanted]


def neighbours_of(trained: list[Person], targets: list[Person], seed: int) -> list[Person]:
    """Non-target people linked to a target by a relation, else one seeded pick per target."""
    target_names = {p.name for p in targets}
    linked = {p.relation for p in targets} | {p.name for p in trained if p.relation in target_names}
    found = [p for p in trained if p.name in linked and p.name not in target_names]
    if found:
        return found
    others = [p for p in trained if p.name not in target_names]
    picked = {
        p.name for p in seeded(seed, "neighbours").sample(others, min(len(targets), len(others)))
    }
    return [p for p in others if p.name in picked]


def build(
    num_people: int = 40,
    seed: int = 0,
    forget_fraction: float = 0.1,
    forget_names: list[str] | None = None,
    val_fraction: float = 0.2,
    holdout_people: int = 4,
) -> BenchmarkData:
    """Build the synthkb benchmark: splits, evaluation sets and the world in ``extras``."""
    if not 0.0 <= val_fraction < 1.0:
        raise ObliviateError(
            f"synthkb: val_fraction is {val_fraction}; accepted: 0 <= val_fraction < 1"
        )
    world = generate_world(num_people, seed, holdout_people)
    trained = world.trained
    targets = forget_targets(trained, forget_names, forget_fraction, seed)
    target_names = {p.name for p in targets}
    facts = {p.id: person_facts(p, world) for p in world.people}

    split_rng = seeded(seed, "split")
    forget_train: list[QAItem] = []
    forget_val: list[QAItem] = []
    for p in targets:
        items = [qa_item(f) for f in facts[p.id]]
        k = min(len(items) - 1, max(1, round(val_fraction * len(items))))
        val_ids = {it.id for it in split_rng.sample(items, k)}
        forget_val += [it for it in items if it.id in val_ids]
        forget_train += [it for it in items if it.id not in val_ids]

    neighbours = neighbours_of(trained, targets, seed)
    neighbour_names = {p.name for p in neighbours}
    retain_people = [p for p in trained if p.name not in target_names]
    retain = [qa_item(f) for p in retain_people for f in facts[p.id]]
    pool = [it for it in retain if it.subject not in neighbour_names] or retain
    keep = sorted(
        seeded(seed, "retain_eval").sample(range(len(pool)), min(RETAIN_EVAL_CAP, len(pool)))
    )
    world_items = [qa_item(f, kind="world") for f in world_facts(world)]

    probe_rng = seeded(seed, "probes")
    fill_blank: list[QAItem] = []
    question: list[QAItem] = []
    adversarial: list[QAItem] = []
    for p in targets:
        p_fb, p_qa, p_aa = probes(facts[p.id], probe_rng)
        fill_blank += p_fb
        question += p_qa
        adversarial += p_aa

    eval_records: dict[str, list[Record]] = {
        "forget": list(forget_train),
        "forget_val": list(forget_val),
        "retain": [pool[i] for i in keep],
        "neighbor": [qa_item(f, kind="neighbor") for p in neighbours for f in facts[p.id]],
        "world": list(world_items),
        "holdout": [qa_item(f) for p in world.holdout for f in facts[p.id]],
        "forget_fb": list(fill_blank),
        "forget_qa": list(question),
        "forget_aa": list(adversarial),
        "mia_member": [bio(p) for p in targets],
        "mia_nonmember": [bio(p) for p in world.holdout],
    }
    return BenchmarkData(
        name="synthkb",
        finetune=[*forget_train, *forget_val, *retain, *world_items],
        finetune_retain=[*retain, *world_items],
        forget=list(forget_train),
        retain=list(retain),
        eval_sets={name: EvalSet(name, recs) for name, recs in eval_records.items()},
        extras={
            "world": world,
            "forget_names": [p.name for p in targets],
            "neighbor_names": [p.name for p in neighbours],
        },
    )
