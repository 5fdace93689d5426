"""Relearning attack (Hu et al. 2024, "Jogging the memory of unlearned LLMs", arXiv 2406.13356;
Deeb & Roger 2024, arXiv 2410.08827): fine-tune the unlearned model for a few steps on a small
relearning set, then evaluate the forget items that were *not* in it.

``attack.relearn.data``:

- ``forget_subset``: a seeded ``fraction`` of the unlearning forget set;
- ``related``: other records the target learned about the same targets that the unlearning
  data did not contain (synthkb: the forget people's ``forget_val`` facts);
- ``unrelated``: as many general records (else retain records about other subjects).

The relearning records (by id, and for QA by question) are removed from every forget-side eval
set, so the attacked models are scored only on held-out items; the target, unlearned and retain
models are scored, unattacked, on the same held-out items. The retain ("gold") model gets the
same relearning: what it reaches on the held-out items is what relearning teaches a model that
never knew them. Training is the ``sft`` method (answer NLL) through
:func:`obliviate.recipe.unlearn` with ``max_steps = steps``, a constant lr and no warm-up.
"""

from __future__ import annotations

import random
from typing import Any

from ..errors import ObliviateError
from ..methods import get_method_class
from ..recipe import unlearn
from ..records import BenchmarkData, QAItem, Record
from ..training import TrainConfig
from .session import with_sets


def _subjects(data: BenchmarkData) -> set[str]:
    return {r.subject for r in data.forget if getattr(r, "subject", "")}


def relearn_pool(data: BenchmarkData, kind: str) -> list[Record]:
    """The records ``attack.relearn.data=kind`` draws from (see the module docstring)."""
    if kind == "forget_subset":
        pool = list(data.forget)
    elif kind == "related":
        forget_ids = {r.id for r in data.forget}
        subjects = _subjects(data)
        pool = [r for r in data.finetune
                if getattr(r, "subject", "") in subjects and r.id not in forget_ids]  # fmt: skip
    else:
        subjects = _subjects(data)
        pool = list(data.general) or [r for r in data.retain
                                      if getattr(r, "subject", "") not in subjects]  # fmt: skip
    if not pool:
        raise ObliviateError(
            f"attack.relearn.data={kind}: benchmark {data.name!r} has no such records; accepted "
            "here: "
            + ", ".join(
                k for k in ("forget_subset", "related", "unrelated") if k != kind and _has(data, k)
            )  # fmt: skip
        )
    return pool


def _has(data: BenchmarkData, kind: str) -> bool:
    try:
        relearn_pool(data, kind)
    except ObliviateError:
        return False
    return True


def relearn_records(data: BenchmarkData, kind: str, fraction: float, seed: int) -> list[Record]:
    """``round(fraction × |forget|)`` records (at least 1, at most the pool) drawn, seeded, from
    the pool of ``kind``: the same count whichever data is chosen."""
    pool = relearn_pool(data, kind)
    n = min(len(pool), max(1, round(fraction * len(data.forget))))
    picked = sorted(random.Random(seed).sample(range(len(pool)), n))
    return [pool[i] for i in picked]


def held_out(records: dict[str, list[Record]], relearn: list[Record]) -> dict[str, list[Record]]:
    """The eval records that share neither an id nor (QA) a question with a relearning record."""
    ids = {r.id for r in relearn if r.id}
    questions = {r.question for r in relearn if isinstance(r, QAItem)}
    return {
        name: [
            r
            for r in recs
            if r.id not in ids and not (isinstance(r, QAItem) and r.question in questions)
        ]  # fmt: skip
        for name, recs in records.items()
    }


def train_config(r: Any) -> TrainConfig:
    """The training section of the relearning steps."""
    return TrainConfig(max_steps=r.steps, lr=r.lr, batch_size=r.batch_size, scope=r.scope,
                       layers=r.layers, lora_preset=r.lora_preset, scheduler="constant",
                       warmup_ratio=0.0, mixed_precision="no", log_every=5)  # fmt: skip


def run(session: Any) -> dict[str, Any]:
    """Relearn the unlearned and the retain model; score them and the unattacked models on the
    held-out forget-side items."""
    cfg, r = session.cfg, session.cfg.attack.relearn
    data = session.data
    rel = relearn_records(data, r.data, r.fraction, r.seed)
    kept = held_out(session.records(), rel)
    if not any(kept.values()):
        raise ObliviateError(
            f"attack.relearn.fraction={r.fraction}: no forget-side item is left to evaluate"
        )
    held = with_sets(data, kept)
    out_dir = session.attack_dir / "relearn"
    clean = {
        role: session.evaluate(
            role, *session.load(role), data=held, rows_dir=out_dir / "clean" / role
        )  # fmt: skip
        for role in session.roles
    }
    attacked, training = {}, {}
    for role in [x for x in session.roles if x != "target"]:
        model, tok = session.load(role)
        result = unlearn(
            get_method_class("sft")(), model, data, session.formatter(tok), train_config(r),
            seed=r.seed, section="attack.relearn", forget=rel, device=session.models.device,
            batch_size=cfg.eval.batch_size, log_path=out_dir / "logs" / f"{role}.jsonl",
            desc=f"relearn {role}",
        )  # fmt: skip
        training[role] = result.summary()
        attacked[role] = session.evaluate(role, result.model, tok, data=held,
                                          rows_dir=out_dir / r.data / role)  # fmt: skip
        del model, result
    settings = {
        "data": r.data, "fraction": r.fraction, "steps": r.steps, "lr": r.lr,
        "batch_size": r.batch_size, "scope": r.scope, "seed": r.seed,
        "relearn_ids": [x.id for x in rel],
        "held_out": {name: len(recs) for name, recs in kept.items()},
    }  # fmt: skip
    return {"clean": clean, "variants": {r.data: {"models": attacked, "training": training}},
            "settings": settings}  # fmt: skip
