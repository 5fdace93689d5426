"""`obliviate run` with MIA / memorisation / linguistic metrics on a small world (nano model)."""

from __future__ import annotations

import importlib.util
import json

import pytest
from small_world import SMALL_WORLD

from obliviate.config import load_config
from obliviate.eval.metrics import mia
from obliviate.pipeline import Run

SMALL = [
    *SMALL_WORLD,
    "finetune.lr=1e-2",
    "unlearn.epochs=1",
    "eval.max_new_tokens=6",
    "eval.sets=[forget,retain,mia_member]",
    "eval.metrics=[default,auc,privleak,mia_reference,exact_memorisation,linguistic_score]",
]


def _lm_eval_task(root) -> list[str]:
    """A one-document local lm-eval task, when lm-eval is installed (else no lm-eval keys)."""
    if importlib.util.find_spec("lm_eval") is None:
        return []
    (root / "toy.jsonl").write_text('{"q": "Where was Mara Kolb born?", "c": ["Oslo", "Vesby"]}\n')
    (root / "toy.yaml").write_text(
        f"task: toy\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        f"    test: {root / 'toy.jsonl'}\ntest_split: test\noutput_type: multiple_choice\n"
        'doc_to_text: "{{q}}"\ndoc_to_choice: "{{c}}"\ndoc_to_target: 0\n'
        "metric_list:\n  - metric: acc\n    aggregation: mean\n    higher_is_better: true\n"
    )
    return ["eval.lm_eval.tasks=[toy]", f"eval.lm_eval.include_path={root}",
            "eval.lm_eval.builtin_tasks=false"]  # fmt: skip


@pytest.mark.slow
def test_run_with_mia_and_linguistic_metrics(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    lm_eval = _lm_eval_task(tmp_path)
    run = Run(load_config(None, [*SMALL, *lm_eval, f"run.out_dir={tmp_path}", "run.name=mia"]))
    metrics = run.run_all()["models"]
    values = json.loads((run.dir / "eval" / "retain" / "retain_values.json").read_text())
    assert {"forget/truth_ratio", "forget/nll_mean", "holdout/nll_mean",
            "forget_mia/auc_min_k", "bio_mia/auc_min_k"} <= set(values)  # fmt: skip
    retain = metrics["retain"]
    assert retain["forget_quality"] == 1.0
    assert retain["forget_mia/auc_reference"] == 0.5  # NLL minus its own NLL: all zeros
    assert retain["forget_mia/privleak"] == pytest.approx(0.0, abs=1e-6)
    assert retain["forget_mia/auc_min_k"] == pytest.approx(values["forget_mia/auc_min_k"])
    for role in ("target", "unlearned"):
        m = metrics[role]
        for key in ("forget_mia/auc_loss", "forget_mia/auc_zlib", "forget_mia/auc_min_k",
                    "forget_mia/auc_min_k_plus_plus", "forget_mia/auc_reference",
                    "forget_mia/privleak", "bio_mia/auc_loss", "forget/exact_memorisation",
                    "forget/linguistic_score", "forget/linguistic_ppl", "forget_quality",
                    "mia_member/exact_memorisation"):  # fmt: skip
            assert key in m, (role, key)
        scores = {
            name: [json.loads(line)["mia_loss"]
                   for line in (run.dir / "eval" / role / f"{name}.jsonl").read_text().splitlines()]
            for name in ("forget", "holdout")
        }  # fmt: skip
        assert m["forget_mia/auc_loss"] == pytest.approx(
            mia.auc(scores["forget"], scores["holdout"])
        )
        if lm_eval:
            assert m["lmeval/toy/acc"] in (0.0, 1.0)
    rows = (run.dir / "eval" / "target" / "holdout.jsonl").read_text().splitlines()
    assert {"mia_loss", "mia_min_k", "mia_reference"} <= set(json.loads(rows[0]))
