"""Prompt attacks change only the prompt; relearning data and evaluated items are disjoint."""

from __future__ import annotations

import pytest

from obliviate.attacks.prompt import attack_records, formatter_for, pick_shots
from obliviate.attacks.relearn import held_out, relearn_records
from obliviate.attacks.settings import PROMPT_KINDS
from obliviate.benchmarks.synthkb import build
from obliviate.formatting import IGNORE_INDEX, Formatter
from obliviate.models.tiny import train_tokenizer


@pytest.fixture(scope="module")
def data():
    return build(num_people=8, seed=0, holdout_people=2)


def _forget_side(data):
    return {name: list(data.eval_sets[name].records) for name in ("forget", "forget_val")}


@pytest.mark.parametrize("kind", ["forget_subset", "related", "unrelated"])
def test_relearning_data_and_evaluated_items_are_disjoint(data, kind):
    records = _forget_side(data)
    rel = relearn_records(data, kind, 0.25, seed=0)
    assert len(rel) == round(0.25 * len(data.forget))
    kept = held_out(records, rel)
    rel_ids, rel_q = {r.id for r in rel}, {r.question for r in rel}
    for name, recs in kept.items():
        assert not {r.id for r in recs} & rel_ids
        assert not {r.question for r in recs} & rel_q
        # nothing but the relearning items is dropped
        assert len(recs) == len([r for r in records[name] if r.id not in rel_ids])
    if kind == "forget_subset":
        assert len(kept["forget"]) == len(records["forget"]) - len(rel)
    if kind == "related":  # facts the target learned about the forget people, not unlearned
        assert {r.subject for r in rel} <= {r.subject for r in data.forget}
        assert not rel_ids & {r.id for r in data.forget}
    if kind == "unrelated":
        assert not {r.subject for r in rel} & {r.subject for r in data.forget}


@pytest.fixture(scope="module")
def fmt(data):
    return Formatter(train_tokenizer(data.tokenizer_texts(), 400), "qa-tags", max_length=128)


@pytest.mark.parametrize("kind", PROMPT_KINDS)
def test_every_prompt_attack_changes_only_the_prompt(data, fmt, kind):
    records = _forget_side(data)
    shots = pick_shots(data, records, 3, seed=0)
    assert shots and not {s.subject for s in shots} & {r.subject for r in data.forget}
    attacked_fmt = formatter_for(kind, fmt, "Sure, here is the answer:")
    attacked = attack_records(kind, records, shots, attacked_fmt)
    for name, recs in records.items():
        assert len(attacked[name]) == len(recs)
        for old, new in zip(recs, attacked[name]):
            assert (new.answer, new.paraphrased_answer, new.perturbed_answers, new.id) == (
                old.answer, old.paraphrased_answer, old.perturbed_answers, old.id)  # fmt: skip
            a, b = (
                fmt.encode_pair(old.question, old.answer),
                attacked_fmt.encode_pair(new.question, new.answer),
            )
            answer = [t for t in a.labels if t != IGNORE_INDEX]
            assert [t for t in b.labels if t != IGNORE_INDEX] == answer  # the same answer tokens
            assert b.input_ids[len(b.input_ids) - len(answer) :] == answer
            prompt_a = a.input_ids[: len(a.input_ids) - len(answer)]
            prompt_b = b.input_ids[: len(b.input_ids) - len(answer)]
            assert prompt_a != prompt_b  # the prompt did change
            assert attacked_fmt.prompt_ids(new.question) == prompt_b  # generation sees it too
