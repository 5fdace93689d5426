"""End-to-end: fine-tune, unlearn, evaluate and report on a small synthkb world (nano model)."""

from __future__ import annotations

import json

import pytest
import torch

from obliviate.config import load_config
from obliviate.pipeline import Run

SMALL = [
    "benchmark.people=8",
    "benchmark.holdout_people=2",
    "model.tiny_preset=nano",
    "model.tokenizer_vocab=400",
    "finetune.epochs=15",
    "finetune.lr=1e-2",
    "finetune.batch_size=16",
    "unlearn.epochs=3",
    "unlearn.lr=5e-3",
    "eval.max_new_tokens=12",
]


def _run(out_dir, *extra: str) -> tuple[Run, dict]:
    cfg = load_config(None, [*SMALL, f"run.out_dir={out_dir}", "run.name=e2e", *extra])
    run = Run(cfg)
    return run, run.run_all()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return _run(out)


@pytest.mark.slow
def test_metrics_schema_and_report(finished):
    run, metrics = finished
    on_disk = json.loads((run.dir / "metrics.json").read_text())
    assert on_disk["models"] == metrics["models"]
    assert on_disk["benchmark"] == "synthkb" and on_disk["method"] == "npo"
    assert list(metrics["models"]) == ["target", "retain", "unlearned"]
    for role, m in metrics["models"].items():
        for key in ("forget/rouge_l_recall", "retain/rouge_l_recall", "forget/prob",
                    "forget/truth_ratio", "world/rouge_l_recall", "forget_quality",
                    "model_utility"):  # fmt: skip
            assert key in m, (role, key)
    assert metrics["models"]["retain"]["forget_quality"] == 1.0
    for stage in ("finetune_target", "finetune_retain", "unlearn"):
        assert metrics["timings"][stage] > 0
        assert metrics["training"][stage]["tokens_per_s"] > 0
    report = (run.dir / "report.md").read_text()
    rows = [line.split("|")[1].strip() for line in report.splitlines() if line.startswith("| ")]
    assert rows[1:] == ["target (fine-tuned)", "retain (gold)", "unlearned"]
    items = (run.dir / "eval" / "unlearned" / "forget.jsonl").read_text().splitlines()
    assert {"generation", "rouge_l_recall", "prob", "truth_ratio"} <= set(json.loads(items[0]))


@pytest.mark.slow
def test_unlearning_lowers_forget_probability(finished):
    _, metrics = finished
    target, unlearned = metrics["models"]["target"], metrics["models"]["unlearned"]
    retain = metrics["models"]["retain"]
    # the target learnt the forget people, the retain model never saw them, unlearning removes it
    assert target["forget/prob"] > 2 * retain["forget/prob"]
    assert unlearned["forget/prob"] < 0.5 * target["forget/prob"]


@pytest.mark.slow
def test_saved_models_reload_with_auto_classes(finished):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run, _ = finished
    path = run.dir / "models" / "unlearned"
    assert list(path.glob("*.safetensors"))
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert tok.pad_token_id != tok.eos_token_id
    assert model.config.vocab_size == len(tok)
    assert load_config(run.dir / "config.yaml").run.name == "e2e"


@pytest.mark.slow
def test_finished_stages_are_reused(finished):
    run, metrics = finished
    stamps = {p.name: p.stat().st_mtime_ns for p in (run.dir / "stages").iterdir()}
    run2, metrics2 = _run(run.dir.parent)
    assert {p.name: p.stat().st_mtime_ns for p in (run2.dir / "stages").iterdir()} == stamps
    assert metrics2["models"] == metrics["models"]
    # a changed unlearning config reruns unlearning and its eval, not the fine-tunes
    run3, _ = _run(run.dir.parent, "unlearn.epochs=1")
    after = {p.name: p.stat().st_mtime_ns for p in (run3.dir / "stages").iterdir()}
    assert after["finetune_target.json"] == stamps["finetune_target.json"]
    assert after["eval_target.json"] == stamps["eval_target.json"]
    assert after["unlearn.json"] != stamps["unlearn.json"]


@pytest.mark.slow
def test_same_seed_same_metrics(finished, tmp_path):
    _, metrics = finished
    _, again = _run(tmp_path)
    assert again["models"] == metrics["models"]


@pytest.mark.slow
def test_base_run_shares_target_and_retain(finished, tmp_path):
    run, metrics = finished
    cfg = load_config(None, [*SMALL, f"run.out_dir={tmp_path}", "run.name=gd",
                             f"run.base_run={run.dir}", "unlearn.method=gd"])  # fmt: skip
    gd = Run(cfg).run_all()
    assert not (tmp_path / "gd" / "models" / "target").exists()
    assert gd["models"]["target"] == metrics["models"]["target"]
    assert gd["method"] == "gd"


def test_layers_scope_leaves_frozen_weights_bit_identical(nano_model, formatter):
    from obliviate.config import UnlearnConfig
    from obliviate.methods import get_method_class
    from obliviate.methods.base import Context
    from obliviate.models.scope import apply_scope
    from obliviate.training import train

    before = {n: p.detach().clone() for n, p in nano_model.named_parameters()}
    n = apply_scope(nano_model, "layers", "1-2")
    assert n == sum(p.numel() for name, p in nano_model.named_parameters() if "layers.1." in name)
    forget = [formatter.encode_pair("Where was Mara Kolb born?", "Oslo")] * 4
    method = get_method_class("gd")()
    ctx = Context(formatter, forget, forget)
    cfg = UnlearnConfig(max_steps=3, lr=1e-2, batch_size=2, weight_decay=0.1)
    train(nano_model, lambda m, b: method.loss(m, b, ctx), forget, cfg, formatter.pad_id, 0,
          retain=forget)  # fmt: skip
    for name, p in nano_model.named_parameters():
        if "layers.1." in name:
            continue
        assert torch.equal(p, before[name]), name
    assert any(not torch.equal(p, before[n]) for n, p in nano_model.named_parameters()
               if "layers.1." in n)  # fmt: skip


def test_stage_fingerprints_follow_the_data(tmp_path):
    """A changed data file invalidates exactly the stages that read it (config unchanged)."""
    from obliviate.benchmarks.synthkb import build, write_jsonl

    data_dir = tmp_path / "kb"
    write_jsonl(build(num_people=8, seed=0, holdout_people=2), data_dir)

    def fps(model: str) -> dict[str, str]:
        cfg = load_config(None, [f"run.out_dir={tmp_path}", "run.name=fp",
                                 f"benchmark.path={data_dir}", f"model.name_or_path={model}"])  # fmt: skip
        run = Run(cfg)
        return {"target": run.fp_finetune("target"), "retain": run.fp_finetune("retain"),
                "unlearn": run.fp_unlearn(), "eval": run.data_hash("eval")}  # fmt: skip

    def edit(name: str) -> None:
        path = data_dir / name
        lines = path.read_text().splitlines()
        row = json.loads(lines[0])
        row["answer"] += " (edited)"
        path.write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")

    hub_like = "org/some-model"  # a non-tiny model: no tokenizer trained on the texts
    tiny0, hub0 = fps("tiny"), fps(hub_like)
    assert fps("tiny") == tiny0 and fps(hub_like) == hub0  # same files -> same fingerprints
    edit("eval_world.jsonl")
    hub1 = fps(hub_like)
    assert hub1["eval"] != hub0["eval"]
    assert {k: hub1[k] for k in ("target", "retain", "unlearn")} == {
        k: hub0[k] for k in ("target", "retain", "unlearn")
    }
    assert all(fps("tiny")[k] != tiny0[k] for k in tiny0)  # the tiny tokenizer reads every text
    edit("forget.jsonl")
    hub2 = fps(hub_like)
    assert hub2["unlearn"] != hub1["unlearn"]
    assert hub2["retain"] == hub1["retain"] and hub2["target"] == hub1["target"]


def test_training_on_nothing_is_an_error_not_a_hang(nano_model, formatter):
    from obliviate.config import UnlearnConfig
    from obliviate.errors import ObliviateError
    from obliviate.training import train

    with pytest.raises(ObliviateError, match="unlearn: no training examples"):
        train(
            nano_model, lambda m, b: None, [], UnlearnConfig(), formatter.pad_id, 0, desc="unlearn"
        )
