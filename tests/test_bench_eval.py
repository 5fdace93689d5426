"""`obliviate bench eval`: four evaluation configs timed side by side on one run's model."""

from __future__ import annotations

import json

import pytest
import torch

from obliviate.bench_eval import VARIANTS, bench_eval
from obliviate.config import load_config
from obliviate.pipeline import Run

SMALL = [
    "benchmark.people=6",
    "benchmark.holdout_people=2",
    "model.tiny_preset=nano",
    "model.tokenizer_vocab=400",
    "finetune.epochs=1",
    "finetune.batch_size=16",
    "eval.max_new_tokens=4",
]


@pytest.mark.slow
def test_bench_eval_times_every_config(tmp_path):
    torch.set_num_threads(1)
    small = [*SMALL, f"run.out_dir={tmp_path}"]
    base = Run(load_config(None, [*small, "run.name=base"]))
    base.stage_finetune("target")
    base.stage_finetune("retain")
    report = bench_eval(str(base.dir), overrides=small, rounds=1)
    rows = {r["config"]: r for r in report["rows"]}
    assert list(rows) == list(VARIANTS)
    # every metric adds the MIA non-member set (holdout) to the default sets; on all sets, none
    assert rows["every_metric"]["items"] > rows["foundation"]["items"]
    assert rows["every_metric_all_sets"]["items"] == rows["foundation_all_sets"]["items"]
    for r in rows.values():
        assert r["median_s"] > 0
        # ratios come from the unrounded medians; median_s is rounded to 1 ms
        assert r["vs_foundation"] == pytest.approx(
            r["median_s"] / rows["foundation"]["median_s"], rel=0.02
        )
    assert rows["every_metric"]["vs_same_sets_foundation"] == rows["every_metric"]["vs_foundation"]
    saved = json.loads((tmp_path / "bench_eval" / "bench_eval.json").read_text())
    assert saved["rows"] == report["rows"] and "CPU" in saved["machine"]
    table = (tmp_path / "bench_eval" / "bench_eval.md").read_text()
    assert "| every_metric_all_sets |" in table
