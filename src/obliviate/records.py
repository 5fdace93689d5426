"""Canonical record types: the only data shapes past a benchmark loader.

A loader maps its source's fields onto these once; nothing downstream knows the source schema.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any


@dataclass
class QAItem:
    """A question/answer pair (TOFU, KnowUnDo, RWKU probes, synthkb facts).

    ``kind`` names the probe type (``qa``, ``fill_blank``, ``question``, ``adversarial``,
    ``neighbor``, ``world``); ``level`` is RWKU's probe level (1 = FB, 2 = QA, 3 = AA).
    ``adversarial_type`` holds the attack family of a level-3 probe (``prefix_injection``...).
    """

    question: str
    answer: str
    subject: str = ""
    id: str = ""
    paraphrased_answer: str | None = None
    perturbed_answers: list[str] = field(default_factory=list)
    paraphrased_question: str | None = None
    kind: str = "qa"
    level: int | None = None
    adversarial_type: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "qa", **asdict(self)}


@dataclass
class Passage:
    """A free text (biography, corpus chunk, MIA text); every token is labelled in training."""

    text: str
    subject: str = ""
    id: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "passage", **asdict(self)}


@dataclass
class MCItem:
    """A multiple-choice item; ``answer`` is the index of the correct choice."""

    question: str
    choices: list[str]
    answer: int
    subject: str = ""
    id: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "mc", **asdict(self)}


Record = QAItem | Passage | MCItem

_TYPES: dict[str, type] = {"qa": QAItem, "passage": Passage, "mc": MCItem}


def record_from_dict(data: dict[str, Any], where: str = "record") -> Record:
    """Rebuild a record written by ``to_dict``; ``where`` names the file and line for errors."""
    from .errors import ObliviateError

    kind = data.get("type")
    if kind not in _TYPES:
        raise ObliviateError(f"{where}: field 'type' is {kind!r}; accepted: {', '.join(_TYPES)}")
    cls = _TYPES[kind]
    spec = {f.name: f for f in fields(cls)}
    values = {k: v for k, v in data.items() if k != "type"}
    unknown = sorted(set(values) - set(spec))
    if unknown:
        raise ObliviateError(
            f"{where}: unknown field {unknown[0]!r} for a {kind} record; accepted: {', '.join(spec)}"
        )
    for name, f in spec.items():
        required = f.default is MISSING and f.default_factory is MISSING
        if required and name not in values:
            raise ObliviateError(f"{where}: {kind} record lacks required field {name!r}")
        if name in values and f.type == "str" and not isinstance(values[name], str):
            raise ObliviateError(
                f"{where}: field {name!r} must be a string, got {type(values[name]).__name__}"
            )
    return cls(**values)


@dataclass
class EvalSet:
    """A named evaluation set: its records and the metric names the suite computes on it."""

    name: str
    records: list[Record]
    metrics: tuple[str, ...] = ()


@dataclass
class BenchmarkData:
    """Everything a benchmark hands the pipeline.

    ``finetune``: what the target model learns; ``finetune_retain``: what the retain ("gold")
    model learns (never any forget-domain item); ``forget``/``retain``/``general``: unlearning
    data; ``eval_sets``: evaluation sets by name.
    """

    name: str
    finetune: list[Record]
    finetune_retain: list[Record]
    forget: list[Record]
    retain: list[Record]
    eval_sets: dict[str, EvalSet]
    general: list[Record] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def all_texts(self) -> list[str]:
        """Every string in the benchmark (used to train the tiny model's tokenizer)."""
        texts: list[str] = []
        seen: set[int] = set()
        pools = [self.finetune, self.finetune_retain, self.forget, self.retain, self.general]
        pools += [s.records for s in self.eval_sets.values()]
        for pool in pools:
            for rec in pool:
                if id(rec) in seen:
                    continue
                seen.add(id(rec))
                texts.extend(record_texts(rec))
        return texts


def record_texts(rec: Record) -> list[str]:
    """The strings a record holds."""
    if isinstance(rec, QAItem):
        out = [rec.question, rec.answer, *rec.perturbed_answers]
        out += [s for s in (rec.paraphrased_answer, rec.paraphrased_question) if s]
        return out
    if isinstance(rec, Passage):
        return [rec.text]
    return [rec.question, *rec.choices]
