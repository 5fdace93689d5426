"""The quickstart pipeline (small settings) in 1 and in 2 CPU processes (``accelerate launch
--multi_gpu --num_processes 2``, gloo) with the same global batch: the same optimizer steps and
LR at every step, the same unlearned model, half of every eval set per rank, one writing rank.

Same global batch: micro-batch b = 2 (finetune 4) on both sides; 1 process accumulates 2
micro-batches per step (grad_accum 2), 2 processes take one each (grad_accum 1). A 1-process
run with batch 4 would see the same examples per step but normalise token-mean losses (sft's
CE, NPO's retain NLL) over 4 sequences' tokens at once instead of averaging two 2-sequence
means: a different objective, not a different layout (training.py's docstring).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dist_launch import launch, written
from safetensors.torch import load_file

SMALL = ["benchmark.people=8", "benchmark.holdout_people=2", "model.tiny_preset=nano",
         "model.tokenizer_vocab=400", "finetune.epochs=2", "finetune.lr=1e-2",
         "finetune.batch_size=4", "unlearn.epochs=2", "unlearn.lr=5e-3", "unlearn.batch_size=2",
         "eval.max_new_tokens=8", "finetune.log_every=1", "unlearn.log_every=1",
         "run.name=q", "run.out_dir=runs"]  # fmt: skip
STAGES = ("finetune_target", "finetune_retain", "unlearn")
TIMING_KEYS = {"seconds", "tokens_per_s", "peak_memory_mb"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[int, Path]:
    out = {}
    for n, accum in ((1, 2), (2, 1)):
        cwd = tmp_path_factory.mktemp(f"p{n}")
        accum_keys = [f"finetune.grad_accum={accum}", f"unlearn.grad_accum={accum}"]
        launch(cwd, n, ["run", *SMALL, *accum_keys])
        out[n] = cwd
    return out


def _log(cwd: Path, stage: str) -> list[dict]:
    text = (cwd / "runs" / "q" / "logs" / f"{stage}.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def _metrics(cwd: Path) -> dict:
    return json.loads((cwd / "runs" / "q" / "metrics.json").read_text())


@pytest.mark.slow
def test_same_steps_and_lr_at_every_step(runs):
    for stage in STAGES:
        one, two = _log(runs[1], stage), _log(runs[2], stage)
        assert [e["step"] for e in one] == [e["step"] for e in two] == list(range(1, len(one) + 1))
        assert [e["lr"] for e in one] == pytest.approx([e["lr"] for e in two], abs=1e-12)
        assert [e["loss"] for e in one] == pytest.approx([e["loss"] for e in two], abs=1e-5)
    # finetune: 108 examples, micro-batch 4 -> 27 micro-batches -> ceil(27 / 2) = 14 per epoch
    assert len(_log(runs[1], "finetune_target")) == 2 * 14
    # unlearn: 9 forget items, micro-batch 2 -> 5 -> 3 steps per epoch
    assert len(_log(runs[2], "unlearn")) == 2 * 3


@pytest.mark.slow
def test_same_unlearned_model_and_metrics(runs):
    one, two = _metrics(runs[1]), _metrics(runs[2])
    assert one.keys() == two.keys() and one["models"].keys() == two["models"].keys()
    for role, m1 in one["models"].items():
        m2 = two["models"][role]
        assert m1.keys() == m2.keys(), role
        for key, v in m1.items():
            if "rouge" in key:
                assert v == m2[key], (role, key)
            else:
                assert v == pytest.approx(m2[key], abs=1e-4), (role, key)
    for stage in STAGES:  # steps, tokens, parameters equal; only timings differ
        t1, t2 = one["training"][stage], two["training"][stage]
        assert {k: v for k, v in t1.items() if k not in TIMING_KEYS} == {
            k: v for k, v in t2.items() if k not in TIMING_KEYS
        }
    w1, w2 = (
        load_file(r / "runs/q/models/unlearned/model.safetensors") for r in (runs[1], runs[2])
    )
    assert w1.keys() == w2.keys()
    assert max(float((w1[k] - w2[k]).abs().max()) for k in w1) < 1e-5


@pytest.mark.slow
def test_each_rank_evaluates_half_of_every_eval_set(runs):
    for role in ("target", "retain", "unlearned"):
        passes = json.loads((runs[2] / "runs/q/eval" / role / "shards.json").read_text())
        assert {p["pass"] for p in passes} == {"score", "generate"}
        for p in passes:
            counts = p["per_rank"]
            print(role, p["pass"], p["items"], counts)  # the logged counts (pytest -s)
            assert len(counts) == 2 and sum(counts) == p["items"]
            assert max(counts) - min(counts) <= 1
        one = json.loads((runs[1] / "runs/q/eval" / role / "shards.json").read_text())
        assert [p["items"] for p in one] == [p["items"] for p in passes]


@pytest.mark.slow
def test_only_rank_zero_writes(runs):
    ranks = written(runs[2])
    assert sorted(ranks) == [0, 1]
    assert ranks[1] == []
    wrote = "\n".join(ranks[0])
    for path in ("config.yaml", "metrics.json", "report.md", "stages/unlearn.json",
                 "eval/unlearned/forget.jsonl", "models/.unlearned.tmp-"):  # fmt: skip
        assert path in wrote, path
