"""relearn and meow through the pipeline on synthkb with the offline generator: the stage
generates its data, the unlearning fingerprint follows the data, the CLI writes the run dir."""

from __future__ import annotations

import json

import pytest
import torch

from obliviate.cli import main
from obliviate.config import load_config
from obliviate.pipeline import Run


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A fine-tuned nano target on 8 people (retain model off), shared by the tests."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("runs")
    common = [f"run.out_dir={out}", "model.tiny_preset=nano", "benchmark.people=8",
              "finetune.epochs=2", "finetune.retain_model=false"]  # fmt: skip
    Run(load_config(None, [*common, "run.name=base"])).stage_finetune("target")
    yield out, [*common, f"run.base_run={out / 'base'}", "unlearn.max_steps=3"]
    torch.set_num_threads(previous)


@pytest.mark.slow
def test_relearn_stage_generates_its_data_and_fingerprints_it(base):
    out, common = base
    run = Run(load_config(None, [*common, "run.name=rl", "unlearn.method=relearn_klr_gdr"]))
    info = run.stage_unlearn()
    assert info["training"]["steps"] == 3
    path = run.dir / "generated" / "relearn.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == len(run.data.forget)
    fp = run.fp_unlearn()
    reused = run.stage_unlearn()  # reused: the data is unchanged
    assert reused.pop("artifacts")  # the record's file checks
    assert {"fingerprint": fp, **{k: v for k, v in info.items() if k != "artifacts"}} == reused
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    assert run.fp_unlearn() != fp  # other data: the stage reruns


@pytest.mark.slow
def test_meow_invert_cli_then_unlearn(base, capsys):
    out, common = base
    args = [*common, "run.name=mw", "unlearn.method=meow", "generate.memo_max_new_tokens=8",
            "generate.memo_prompt=template"]  # fmt: skip
    assert main(["invert", *args]) == 0
    rows = [
        json.loads(line)
        for line in (out / "mw" / "generated" / "meow.jsonl").read_text().splitlines()
    ]
    assert rows and all(len(r["candidates"]) == len(r["candidate_memo"]) == 4 for r in rows)
    assert all(0.0 <= s <= 1.0 for r in rows for s in [r["answer_memo"], *r["candidate_memo"]])
    assert main(["unlearn", *args]) == 0
    stage = json.loads((out / "mw" / "stages" / "unlearn.json").read_text())
    assert stage["training"]["steps"] == 3
    assert "unlearn meow" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:prompt of")
def test_augment_with_the_runs_own_model(base, tmp_path):
    """generate.backend=hf generate.model=target: the run's target answers (poorly) through the
    local backend; the requests are cached under the target's stage fingerprint."""
    out, common = base
    args = [*common, "run.name=hf", "generate.backend=hf", "generate.model=target",
            "generate.max_tokens=4", "generate.check_rounds=1", f"generate.cache_dir={tmp_path}"]  # fmt: skip
    assert main(["augment", *args]) == 0
    manifest = json.loads((out / "hf" / "generated" / "relearn.json").read_text())
    assert manifest["backend"] == "hf" and manifest["model"].startswith("run:target:")
    assert manifest["requests"] > 0 and manifest["cache_hits"] == 0
    assert main(["augment", *args]) == 0
    manifest = json.loads((out / "hf" / "generated" / "relearn.json").read_text())
    assert manifest["requests"] == 0 and manifest["cache_hits"] > 0
