"""TOFU (Maini et al. 2024), HF ``locuslab/TOFU``: every config has one split, ``train`` (SPEC 2.1).

``benchmark.split`` picks the forget split; the matching retain and holdout configs follow the
explicit pairing table (forget01↔retain99↔holdout01, forget05↔retain95↔holdout05,
forget10↔retain90↔holdout10; MEOW's ``'10'.strip('0')`` mix-up, SPEC 8 #37, cannot happen).

| role                       | config                                                     |
|----------------------------|------------------------------------------------------------|
| target fine-tune           | ``full``                                                   |
| retain ("gold") fine-tune  | ``retainYY``                                               |
| forget / retain training   | ``forgetXX`` / ``retainYY``                                |
| eval ``forget``            | ``forgetXX_perturbed`` (paraphrased + 5 perturbed answers) |
| eval ``retain``            | ``retain_perturbed``                                       |
| eval ``real_authors``      | ``real_authors_perturbed`` (3 perturbed answers)           |
| eval ``world_facts``       | ``world_facts_perturbed``                                  |
| eval ``holdout``           | ``holdoutXX`` (MIA non-members, never trained on)          |

Local copies: ``<path>/<config>.json`` as in the hub repository (or any layout of ``hub.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import section
from ..errors import ObliviateError, did_you_mean
from ..records import BenchmarkData, EvalSet, QAItem
from .hub import Schema, read_table
from .registry import BenchmarkInfo, register_benchmark


@section("benchmark")
@dataclass
class TOFUSettings:
    """``benchmark.*`` keys of the TOFU loader."""

    split: str = ""  # TOFU forget split: forget01 | forget05 | forget10 (default forget10)


REPO = "locuslab/TOFU"
SPLIT = "train"
DEFAULT_SPLIT = "forget10"
# forget split -> (retain config, holdout config)
PAIRING: dict[str, tuple[str, str]] = {
    "forget01": ("retain99", "holdout01"),
    "forget05": ("retain95", "holdout05"),
    "forget10": ("retain90", "holdout10"),
}
QA: Schema = {"question": str, "answer": str}
PERTURBED: Schema = {
    "question": str,
    "answer": str,
    "paraphrased_answer": str,
    "perturbed_answer": list,
    "paraphrased_question": str,
}
OPTIONS: Schema = {"question": str, "answer": str, "perturbed_answer": list}


def _items(cfg: Any, config: str, schema: Schema) -> list[QAItem]:
    table = read_table(REPO, cfg.path, config, SPLIT, schema)
    perturbed_schema = "paraphrased_answer" in schema
    items = []
    for i, row in enumerate(table.rows):
        perturbed = row.get("perturbed_answer") or []
        bad = [p for p in perturbed if not isinstance(p, str)]
        if bad:
            raise ObliviateError(
                f"{table.where}: record {i} field 'perturbed_answer' holds a "
                f"{type(bad[0]).__name__}; expected a list of str"
            )
        items.append(
            QAItem(
                question=row["question"],
                answer=row["answer"],
                id=f"{config}/{i}",
                paraphrased_answer=row["paraphrased_answer"] if perturbed_schema else None,
                perturbed_answers=list(perturbed),
                paraphrased_question=row["paraphrased_question"] if perturbed_schema else None,
            )
        )
    if not items:
        raise ObliviateError(f"{table.where}: the table is empty")
    return items


def forget_split(cfg: Any) -> str:
    split = cfg.split or DEFAULT_SPLIT
    if split not in PAIRING:
        raise ObliviateError(
            f"benchmark.split={split!r} is not a TOFU forget split; "
            f"{did_you_mean(split, list(PAIRING))}"
        )
    return split


def load(cfg: Any) -> BenchmarkData:
    """Map the TOFU configs of one forget split onto the canonical records."""
    split = forget_split(cfg)
    retain_cfg, holdout_cfg = PAIRING[split]
    full = _items(cfg, "full", QA)
    forget = _items(cfg, split, QA)
    retain = _items(cfg, retain_cfg, QA)
    eval_sets = {
        "forget": _items(cfg, f"{split}_perturbed", PERTURBED),
        "retain": _items(cfg, "retain_perturbed", PERTURBED),
        "real_authors": _items(cfg, "real_authors_perturbed", OPTIONS),
        "world_facts": _items(cfg, "world_facts_perturbed", OPTIONS),
        "holdout": _items(cfg, holdout_cfg, QA),
    }
    forget_questions = {r.question for r in forget}
    leaked = [r.id for r in retain if r.question in forget_questions]
    if leaked:
        raise ObliviateError(
            f"TOFU {retain_cfg} shares questions with {split} (first: {leaked[0]}); the retain "
            "model would see forget facts"
        )
    return BenchmarkData(
        name="tofu",
        finetune=full,
        finetune_retain=retain,
        forget=forget,
        retain=retain,
        eval_sets={name: EvalSet(name, list(recs)) for name, recs in eval_sets.items()},
        extras={"split": split, "retain_config": retain_cfg, "holdout_config": holdout_cfg},
    )


register_benchmark(
    BenchmarkInfo(
        "tofu",
        "TOFU (locuslab/TOFU): fictitious authors; benchmark.split=forget01|forget05|forget10",
        load,
        "tofu",
    )
)
