"""Canonical records: to_dict/record_from_dict round trip, validation errors naming the field,
content_hash (stable, order-sensitive) and the texts the tiny tokenizer is trained on."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pytest

from obliviate.errors import ObliviateError
from obliviate.records import (
    BenchmarkData,
    EvalSet,
    MCItem,
    Passage,
    QAItem,
    content_hash,
    record_from_dict,
    record_texts,
)

QA = QAItem("Where was Mara born?", "Oslo", subject="Mara", id="f/0", paraphrased_answer="In Oslo",
            perturbed_answers=["Bergen", "Vesby"], paraphrased_question="Mara's birthplace?",
            kind="qa", level=2, adversarial_type=None, meta={"k": 1})  # fmt: skip
PASSAGE = Passage("Mara sang in Oslo.", subject="Mara", id="p/0")
MC = MCItem("2+2?", ["3", "4"], 1, id="mc/0", meta={"task": "math"})


def test_to_dict_tags_the_type_and_round_trips() -> None:
    assert PASSAGE.to_dict() == {"type": "passage", "text": "Mara sang in Oslo.", "subject": "Mara",
                                 "id": "p/0", "meta": {}}  # fmt: skip
    assert MC.to_dict() == {"type": "mc", "question": "2+2?", "choices": ["3", "4"], "answer": 1,
                            "subject": "", "id": "mc/0", "meta": {"task": "math"}}  # fmt: skip
    for rec in (QA, PASSAGE, MC):
        through_json = json.loads(json.dumps(rec.to_dict()))
        assert record_from_dict(through_json) == rec
    # optional fields take their defaults
    assert record_from_dict({"type": "qa", "question": "q", "answer": "a"}) == QAItem("q", "a")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"question": "q"}, "f.jsonl:3: field 'type' is None; accepted: qa, passage, mc"),
        ({"type": "QA", "question": "q"}, "f.jsonl:3: field 'type' is 'QA'; accepted: qa, passage, mc"),
        ({"type": "qa", "question": "q"}, "f.jsonl:3: qa record lacks required field 'answer'"),
        ({"type": "passage", "text": "t", "txt": "t"},
         "f.jsonl:3: unknown field 'txt' for a passage record; accepted: text, subject, id, meta"),
        ({"type": "qa", "question": "q", "answer": 7},
         "f.jsonl:3: field 'answer' must be a string, got int"),
        ({"type": "mc", "question": "q", "choices": ["a"], "answer": 0, "subject": None},
         "f.jsonl:3: field 'subject' must be a string, got NoneType"),
    ],
)  # fmt: skip
def test_validation_errors_name_where_and_the_field(data: dict, message: str) -> None:
    with pytest.raises(ObliviateError) as err:
        record_from_dict(data, "f.jsonl:3")
    assert str(err.value) == message


def test_unknown_fields_are_reported_alphabetically_first() -> None:
    with pytest.raises(ObliviateError, match="unknown field 'aaa' for a mc record"):
        record_from_dict({"type": "mc", "question": "q", "choices": [], "answer": 0,
                          "zzz": 1, "aaa": 2})  # fmt: skip


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "mc", "question": "q", "choices": ["a", "b"], "answer": "1"},
         "f.jsonl:1: field 'answer' must be an integer, got str"),
        ({"type": "mc", "question": "q", "choices": ["a", "b"], "answer": True},
         "f.jsonl:1: field 'answer' must be an integer, got bool"),
        ({"type": "qa", "question": "q", "answer": "a", "perturbed_answers": "Bergen"},
         "f.jsonl:1: field 'perturbed_answers' must be a list of strings, got str"),
        ({"type": "qa", "question": "q", "answer": "a", "level": "2"},
         "f.jsonl:1: field 'level' must be an integer or null, got str"),
        ({"type": "passage", "text": "t", "meta": []},
         "f.jsonl:1: field 'meta' must be an object, got list"),
    ],
)  # fmt: skip
def test_non_string_field_types_are_checked_too(data: dict, message: str) -> None:
    with pytest.raises(ObliviateError) as err:
        record_from_dict(data, "f.jsonl:1")
    assert str(err.value) == message


def test_optional_fields_accept_null_and_their_type() -> None:
    rec = record_from_dict({"type": "qa", "question": "q", "answer": "a", "level": None,
                            "paraphrased_answer": None, "perturbed_answers": ["x"]})  # fmt: skip
    assert rec.level is None and rec.perturbed_answers == ["x"]


def _expected_hash(*pools: list[str]) -> str:
    """The documented construction: sha256 over each item's sorted-key JSON + newline, a NUL
    after each pool; the first 16 hex digits."""
    digest = hashlib.sha256()
    for pool in pools:
        for text in pool:
            digest.update(text.encode() + b"\n")
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def test_content_hash_by_hand_and_pinned() -> None:
    qa = QAItem("q", "a")
    qa_json = json.dumps({"type": "QAItem", **vars(qa)}, sort_keys=True)
    assert content_hash([qa]) == _expected_hash([qa_json])
    assert content_hash([qa], [1, "x"]) == _expected_hash([qa_json], ["1", '"x"'])
    # pinned: a changed value would silently re-run every finished stage of existing run dirs
    assert content_hash([qa]) == "ff7281eef852d101"
    assert content_hash() == hashlib.sha256(b"").hexdigest()[:16]


def test_content_hash_is_order_and_pool_sensitive_but_not_key_order_sensitive() -> None:
    a, b = QAItem("q1", "a1"), QAItem("q2", "a2")
    assert content_hash([a, b]) == content_hash([QAItem("q1", "a1"), QAItem("q2", "a2")])
    assert content_hash([a, b]) != content_hash([b, a])  # item order counts
    assert content_hash([a, b]) != content_hash([a], [b])  # pool boundaries count
    assert content_hash([a], []) != content_hash([a])
    assert content_hash([{"x": 1, "y": 2}]) == content_hash([{"y": 2, "x": 1}])  # dict: by keys
    assert content_hash([a]) != content_hash([QAItem("q1", "a1", meta={"v": 1})])  # any field
    # a record hashes by its type as well: same field values, another record type -> new hash
    assert content_hash([Passage("t")]) != content_hash([{"text": "t", "subject": "", "id": "",
                                                          "meta": {}}])  # fmt: skip


def test_content_hash_hashes_nested_dataclasses_and_rejects_the_rest() -> None:
    @dataclass
    class World:
        people: list[QAItem]

    world = World([QAItem("q", "a")])
    inner = json.dumps({"type": "QAItem", **vars(world.people[0])}, sort_keys=True)
    assert content_hash([world]) == _expected_hash([f'{{"people": [{inner}], "type": "World"}}'])
    with pytest.raises(TypeError, match="content_hash: cannot hash a set"):
        content_hash([{1, 2}])
    with pytest.raises(TypeError, match="cannot hash a type"):
        content_hash([QAItem])  # a class is not a record


def test_record_texts() -> None:
    assert record_texts(QA) == ["Where was Mara born?", "Oslo", "Bergen", "Vesby", "In Oslo",
                                "Mara's birthplace?"]  # fmt: skip
    assert record_texts(QAItem("q", "a", paraphrased_answer="")) == ["q", "a"]  # empty: left out
    assert record_texts(PASSAGE) == ["Mara sang in Oslo."]
    assert record_texts(MC) == ["2+2?", "3", "4"]


def test_tokenizer_texts_cover_training_and_eval_once_but_not_unlearning_data() -> None:
    shared = QAItem("shared q", "shared a")
    data = BenchmarkData(
        name="x",
        finetune=[shared, PASSAGE],
        finetune_retain=[shared],  # the same object: its texts once
        forget=[QAItem("forget only", "f")],
        retain=[QAItem("retain only", "r")],
        eval_sets={"s": EvalSet("s", [MC, QAItem("shared q", "shared a")])},  # equal, not same
        general=[Passage("general only")],
    )
    assert data.tokenizer_texts() == ["shared q", "shared a", "Mara sang in Oslo.", "2+2?", "3",
                                      "4", "shared q", "shared a"]  # fmt: skip
