"""`obliviate bench methods`: config merging, the base-run check, the table, and one real
method run in its own subprocess against a small base run."""

from __future__ import annotations

import json
import re

import pytest
import torch
import yaml

from obliviate.bench import (
    bench_methods,
    check_base_compatible,
    deep_merge,
    method_config,
    render_table,
    resolve_methods,
)
from obliviate.config import load_config, to_dict
from obliviate.errors import ObliviateError
from obliviate.methods import METHODS
from obliviate.pipeline import Run

SMALL = [
    "benchmark.people=8",
    "benchmark.holdout_people=2",
    "model.tiny_preset=nano",
    "model.tokenizer_vocab=400",
    "finetune.epochs=1",
    "finetune.lr=1e-2",
    "finetune.batch_size=16",
    "unlearn.max_steps=2",
    "eval.max_new_tokens=8",
    "eval.sets=[forget,retain]",
]


def test_resolve_methods():
    assert resolve_methods(["ga, gd", "ga"]) == ["ga", "gd"]
    assert resolve_methods(["all"]) == sorted(METHODS)
    with pytest.raises(ObliviateError, match="unknown"):
        resolve_methods(["gaa"])


def test_method_config_merges_the_method_file(tmp_path):
    base = tmp_path / "bench.yaml"
    base.write_text(yaml.safe_dump({"benchmark": {"people": 8}, "unlearn": {"lr": 0.1}}))
    (tmp_path / "gd.yaml").write_text(
        yaml.safe_dump({"unlearn": {"lr": 0.5, "params": {"alpha": 2.0}}})
    )
    merged = method_config("gd", str(base), tmp_path)
    assert merged == {"benchmark": {"people": 8},
                      "unlearn": {"lr": 0.5, "params": {"alpha": 2.0}, "method": "gd"}}  # fmt: skip
    assert method_config("ga", str(base), tmp_path)["unlearn"] == {"lr": 0.1, "method": "ga"}
    (tmp_path / "npo.yaml").write_text(yaml.safe_dump({"unlearn": {"method": "gd"}}))
    with pytest.raises(ObliviateError, match="not 'npo'"):
        method_config("npo", None, tmp_path)
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}) == {"a": {"b": 3, "c": 2}}


def test_base_run_must_share_model_and_benchmark(tmp_path):
    older = to_dict(load_config(None, SMALL))
    del older["benchmark"]["general"]  # a base run written before the key existed
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(older))
    check_base_compatible(tmp_path, to_dict(load_config(None, [*SMALL, "unlearn.lr=1"])), "x")
    other = to_dict(load_config(None, [*SMALL, "benchmark.people=9"]))
    with pytest.raises(ObliviateError, match="benchmark.people"):
        check_base_compatible(tmp_path, other, "x")


def test_render_table_rows_and_failures():
    base = {"target": {"forget/rouge_l_recall": 1.0}, "retain": {"forget/rouge_l_recall": 0.4}}
    ok = {"method": "ga", "status": "ok", "settings": "lr 0.001, 5 ep, bs 8",
          "metrics": {"forget/rouge_l_recall": 0.25, "retain/rouge_l_recall": 0.5,
                      "forget_quality": 1e-5, "model_utility": 0.6},
          "unlearn_seconds": 3.21,
          "training": {"steps": 5, "tokens_per_s": 1234.4, "peak_memory_mb": 512.3,
                       "trainable_params": 2148480}}  # fmt: skip
    failed = {"method": "pdu", "status": "failed (2): epsilon is required"}
    regex = {**ok, "method": "rmu", "settings": "lr 0.01; trainable_params_regex=(0|1)"}
    lines = render_table([ok, failed, regex], base, "RSS").splitlines()
    cells = {len(re.split(r"(?<!\\)\|", line)) for line in lines}
    assert cells == {len(lines[0].split("|"))}  # every row has the header's columns
    assert lines[6].endswith(r"trainable_params_regex=(0\|1) |")
    assert "peak RSS MB" in lines[0]
    assert lines[2].startswith("| *target* | 1.000 |")
    assert lines[4] == (
        "| ga | 0.250 | 0.500 | 1.00e-05 | 0.600 | 3.2 | 1234 | 512 | 2,148,480 "
        "| lr 0.001, 5 ep, bs 8 |"
    )
    assert lines[5].startswith("| pdu | –") and lines[5].endswith("epsilon is required |")


@pytest.fixture()
def one_thread():
    """A nano model runs fastest on one thread (and far faster on a loaded machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.slow
def test_bench_runs_a_method_in_a_subprocess(tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    small = [*SMALL, f"run.out_dir={tmp_path / 'runs'}"]
    Run(load_config(None, [*small, "run.name=base", "unlearn.method=ga"])).run_all()
    configs = tmp_path / "methods"
    configs.mkdir()
    (configs / "gd.yaml").write_text(yaml.safe_dump({"unlearn": {"lr": 0.002}}))
    table = bench_methods(["gd"], base_run=str(tmp_path / "runs" / "base"), overrides=small,
                          configs_dir=str(configs), threads=1)  # fmt: skip
    row = next(line for line in table.splitlines() if line.startswith("| gd |"))
    assert "lr 0.002, 2 steps, bs 8" in row
    rows = json.loads((tmp_path / "runs" / "bench_methods.json").read_text())["rows"]
    assert rows[0]["status"] == "ok" and rows[0]["training"]["steps"] == 2
    run_dir = tmp_path / "runs" / "bench_gd"
    stage = json.loads((run_dir / "stages" / "unlearn.json").read_text())
    assert rows[0]["training"] == stage["training"]  # the row reports the run's own stage
    # full scope on nano (vocab 400): 64 * 400 + 2 * (4 * 64^2 + 3 * 64 * 192 + 2 * 64) + 64
    assert stage["training"]["trainable_params"] == 64 * 400 + 2 * (16384 + 36864 + 128) + 64
    unlearned = json.loads((run_dir / "metrics.json").read_text())["models"]["unlearned"]
    assert rows[0]["metrics"] == {k: unlearned.get(k) for k in rows[0]["metrics"]}
    forget = [json.loads(x) for x in (run_dir / "eval" / "unlearned" / "forget.jsonl").open()]
    mean_rouge = sum(r["rouge_l_recall"] for r in forget) / len(forget)
    assert rows[0]["metrics"]["forget/rouge_l_recall"] == pytest.approx(mean_rouge)
