"""Canonical record types: the only data shapes past a benchmark loader.

A loader maps its source's fields onto these once; nothing downstream knows the source schema.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any

from .errors import ObliviateError


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


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


# a record field's annotation -> (check, what the error calls it)
_FIELD_TYPES: dict[str, tuple[Any, str]] = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "str | None": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "int": (_is_int, "an integer"),
    "int | None": (lambda v: v is None or _is_int(v), "an integer or null"),
    "list[str]": (_is_str_list, "a list of strings"),
    "dict[str, Any]": (lambda v: isinstance(v, dict), "an object"),
}


def record_from_dict(data: dict[str, Any], where: str = "record") -> Record:
    """Rebuild a record written by ``to_dict``; ``where`` names the file and line for errors
    (an unknown type or field, a missing required field, a value of the wrong type)."""
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
        check, expected = _FIELD_TYPES[str(f.type)]
        if name in values and not check(values[name]):
            raise ObliviateError(
                f"{where}: field {name!r} must be {expected}, got {type(values[name]).__name__}"
            )
    return cls(**values)


@dataclass
class EvalSet:
    """A named evaluation set and its records."""

    name: str
    records: list[Record]


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

    def tokenizer_texts(self) -> list[str]:
        """The strings the tiny model's tokenizer is trained on: what the models are fine-tuned
        on and evaluated with. Unlearning-time data (forget, retain, general) is left out: it is
        fine-tuning data already, or new text (a generated corpus, WikiQA) that the byte-level
        tokenizer encodes without unknown tokens, so adding it never retrains the models."""
        texts: list[str] = []
        seen: set[int] = set()
        pools = [self.finetune, self.finetune_retain]
        pools += [s.records for s in self.eval_sets.values()]
        for pool in pools:
            for rec in pool:
                if id(rec) in seen:
                    continue
                seen.add(id(rec))
                texts.extend(record_texts(rec))
        return texts


def content_hash(*pools: Iterable[Any]) -> str:
    """sha256 (16 hex digits) of records and other values, in order: what a stage consumed.

    Records hash by type and fields, dataclasses (e.g. synthkb's world) by their fields, the
    rest by its JSON form. Stage fingerprints include it, so a changed data file or generator
    invalidates the stages that read it.
    """
    digest = hashlib.sha256()
    for pool in pools:
        for item in pool:
            digest.update(json.dumps(item, sort_keys=True, default=_plain).encode())
            digest.update(b"\n")
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def _plain(value: Any) -> Any:
    """JSON form of a dataclass (its type and fields) for :func:`content_hash`."""
    if is_dataclass(value) and not isinstance(value, type):
        return {"type": type(value).__name__, **vars(value)}
    raise TypeError(f"content_hash: cannot hash a {type(value).__name__}")


def record_texts(rec: Record) -> list[str]:
    """The strings a record holds."""
    if isinstance(rec, QAItem):
        out = [rec.question, rec.answer, *rec.perturbed_answers]
        out += [s for s in (rec.paraphrased_answer, rec.paraphrased_question) if s]
        return out
    if isinstance(rec, Passage):
        return [rec.text]
    return [rec.question, *rec.choices]
