"""lm-eval-harness integration on a custom local task (skipped when lm-eval is not installed)."""

from __future__ import annotations

import json

import pytest
import torch

from obliviate.config import LMEvalConfig
from obliviate.errors import ObliviateError
from obliviate.eval.lmeval import flatten_results, run_lm_eval

DOCS = [
    {"question": "What is the capital of Norland?", "choices": ["Vesby", "Oslo", "Lumen"], "answer": 0},
    {"question": "Where was Mara Kolb born?", "choices": ["Vesby", "Oslo", "Berg"], "answer": 1},
    {"question": "What does Jon Berg do?", "choices": ["carpenter", "pilot", "nurse"], "answer": 0},
    {"question": "Who works at Lumen Works?", "choices": ["Mara Kolb", "Jon Berg"], "answer": 1},
]  # fmt: skip
TASK = """task: obliviate_toy
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


def test_flatten_results() -> None:
    raw = {"arc_easy": {"alias": "arc_easy", "acc,none": 0.5, "acc_stderr,none": 0.1,
                        "exact_match,strict-match": 0.25, "sample_len": 4}}  # fmt: skip
    assert flatten_results(raw) == {
        "lmeval/arc_easy/acc": 0.5,
        "lmeval/arc_easy/exact_match_strict-match": 0.25,
    }


def _expected_acc(model, tokenizer) -> float:
    """lm-eval's multiple-choice rule by hand: argmax over choices of the summed log-prob of
    " " + choice after the context, continuation ids = ids(context + " " + choice)[len(ctx):]."""
    hits = 0
    for doc in DOCS:
        context = f"Question: {doc['question']}\nAnswer:"
        ctx_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
        scores = []
        for choice in doc["choices"]:
            whole = tokenizer(context + " " + choice, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logp = torch.log_softmax(model(torch.tensor([whole])).logits[0], -1)
            scores.append(
                sum(float(logp[t - 1, whole[t]]) for t in range(len(ctx_ids), len(whole)))
            )
        hits += int(max(range(len(scores)), key=scores.__getitem__) == doc["answer"])
    return hits / len(DOCS)


@pytest.mark.slow
def test_custom_local_task(tmp_path, nano_model, tokenizer, monkeypatch) -> None:
    pytest.importorskip("lm_eval")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    data = tmp_path / "toy.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    (tmp_path / "toy.yaml").write_text(TASK.format(data=data))
    cfg = LMEvalConfig(
        tasks=["obliviate_toy"], include_path=str(tmp_path), builtin_tasks=False, batch_size=4
    )
    out = run_lm_eval(nano_model, tokenizer, cfg, "cpu")
    assert out == {"lmeval/obliviate_toy/acc": pytest.approx(_expected_acc(nano_model, tokenizer))}
    with pytest.raises(ObliviateError, match="not lm-eval tasks"):
        run_lm_eval(
            nano_model, tokenizer, LMEvalConfig(["no_such_task"], builtin_tasks=False), "cpu"
        )


def test_missing_lm_eval_is_a_clear_error(monkeypatch, nano_model, tokenizer) -> None:
    import builtins

    real_import = builtins.__import__

    def no_lm_eval(name, *args, **kwargs):
        if name.startswith("lm_eval"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_lm_eval)
    with pytest.raises(ObliviateError, match=r"pip install 'obliviate\[lmeval\]'"):
        run_lm_eval(nano_model, tokenizer, LMEvalConfig(tasks=["x"]), "cpu")
