"""Empty and degenerate generations: the per-answer rules, the set rates, and a model that
answers every forget question with "" reported as such (never as perfect forgetting)."""

from __future__ import annotations

import json

import pytest

from obliviate.eval.metrics.degeneration import is_degenerate, is_empty
from obliviate.eval.suites.base import EvalContext
from obliviate.eval.suites.sets import evaluate_qa_set
from obliviate.records import QAItem
from obliviate.report.tables import render_report


@pytest.mark.parametrize(
    ("text", "empty", "degenerate"),
    [
        ("", True, False),
        ("  \n ", True, False),
        ("Mara Kolb was born in Oslo.", False, False),
        ("1961", False, False),  # a bare number is text
        ("!!!! ???", False, True),  # no letter
        ("<|x|><|x|><|x|>", False, True),  # 3 letters of 15 characters
        ("the the the the cat", False, True),  # one token 4 times in a row
        ("a b a b a b a b", False, True),  # 2 distinct of 8
        ("a b c a b c a b", False, False),  # 3 distinct of 8 (> 0.25)
        ("Oslo Oslo Oslo", False, False),  # 3 in a row is allowed
    ],
)
def test_rules(text, empty, degenerate):
    assert is_empty(text) is empty and is_degenerate(text) is degenerate


ITEMS = [
    QAItem(id=f"f{i}", question=f"Where was person {i} born?", answer=f"In town {i}.")
    for i in range(4)
]


def _ctx(tokenizer, formatter, nano_model, answers):
    gen = lambda prompts, n: [answers[i % len(answers)] for i in range(len(prompts))]  # noqa: E731
    return EvalContext(nano_model, tokenizer, formatter, 8, 4, generator=gen)


def test_set_rates(tokenizer, formatter, nano_model):
    answers = ["", "x x x x", "In town 2.", "In town 3."]
    res = evaluate_qa_set(ITEMS, _ctx(tokenizer, formatter, nano_model, answers), "closer_to_1")
    assert res.metrics["empty_rate"] == 0.25 and res.metrics["degenerate_rate"] == 0.25
    assert [r["empty_rate"] for r in res.items] == [1.0, 0.0, 0.0, 0.0]


def test_all_empty_model_is_flagged_not_forgetting(tokenizer, formatter, nano_model, tmp_path):
    res = evaluate_qa_set(ITEMS, _ctx(tokenizer, formatter, nano_model, [""]), "closer_to_1")
    assert res.metrics["empty_rate"] == 1.0 and res.metrics["rouge_l_recall"] == 0.0
    good = evaluate_qa_set(ITEMS, _ctx(tokenizer, formatter, nano_model, ["In town 0."]), "closer_to_1")  # fmt: skip
    assert good.metrics["empty_rate"] == 0.0
    models = {
        role: {f"forget/{k}": v for k, v in r.metrics.items()} for role, r in
        (("target", good), ("unlearned", res))
    }  # fmt: skip
    metrics = {"benchmark": "synthkb", "method": "npo", "models": models}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    report = render_report([tmp_path])
    rows = {line.split(" | ")[0].split(" ‼")[0]: line for line in report.splitlines()
            if line.startswith("| ")}  # fmt: skip
    assert "†" in rows["| unlearned"] and "†" not in rows["| target (fine-tuned)"]
    assert "forget empty rate ↓" in report.splitlines()[2]  # shown beside the forget scores
    assert "† unlearned: forget empty_rate 1.000" in report
    assert "not evidence of forgetting" in report
