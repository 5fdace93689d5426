"""The run directory: layout, stage records, the run.base_run sharing rule and fingerprints."""

from __future__ import annotations

import json

import pytest

from obliviate.config import load_config
from obliviate.errors import ObliviateError
from obliviate.run_dir import RunData, RunDir

SMALL = ["benchmark.people=8", "benchmark.holdout_people=2"]


def _cfg(tmp_path, *extra: str):
    return load_config(None, [*SMALL, f"run.out_dir={tmp_path}", *extra])


def test_layout_and_config(tmp_path):
    rd = RunDir(_cfg(tmp_path, "run.name=x"))
    assert rd.dir == tmp_path / "x" and rd.shared == rd.dir
    assert load_config(rd.dir / "config.yaml").run.name == "x"
    assert rd.model_dir("target") == rd.dir / "models" / "target"
    assert rd.eval_dir("retain") == rd.dir / "eval" / "retain"
    assert rd.stage_path("finetune_target") == rd.dir / "stages" / "finetune_target.json"
    assert rd.log_path("unlearn") == rd.dir / "logs" / "unlearn.jsonl"
    assert rd.region_path() == rd.dir / "localize" / "region.json"
    # no name: <benchmark>_<method>
    assert RunDir(_cfg(tmp_path, "unlearn.method=gd")).dir == tmp_path / "synthkb_gd"


def test_records_match_on_the_fingerprint_and_reuse(tmp_path):
    rd = RunDir(_cfg(tmp_path, "run.name=r"))
    assert rd.finished("unlearn", "abc") is None and rd.record("unlearn") is None
    rd.finish("unlearn", "abc", {"seconds": 1.5})
    assert json.loads(rd.stage_path("unlearn").read_text()) == {
        "fingerprint": "abc",
        "seconds": 1.5,
    }
    assert rd.finished("unlearn", "abc") == {"fingerprint": "abc", "seconds": 1.5}
    assert rd.finished("unlearn", "other") is None
    no_reuse = RunDir(_cfg(tmp_path, "run.name=r", "run.reuse=false"))
    assert no_reuse.finished("unlearn", "abc") is None
    assert no_reuse.record("unlearn") == {"fingerprint": "abc", "seconds": 1.5}


def test_base_run_shares_base_target_retain_but_not_unlearning(tmp_path):
    base = RunDir(_cfg(tmp_path, "run.name=base"))
    base.finish("finetune_target", "t", {})
    rd = RunDir(_cfg(tmp_path, "run.name=m", f"run.base_run={base.dir}"))
    assert rd.shared == base.dir
    for role in ("base", "target", "retain"):
        assert rd.model_dir(role) == base.dir / "models" / role
        assert rd.eval_dir(role) == base.dir / "eval" / role
    for stage in ("finetune_target", "finetune_retain", "eval_target", "eval_retain"):
        assert rd.stage_path(stage) == base.dir / "stages" / f"{stage}.json"
    assert rd.finished("finetune_target", "t") == {"fingerprint": "t"}
    assert rd.model_dir("unlearned") == rd.dir / "models" / "unlearned"
    assert rd.eval_dir("unlearned") == rd.dir / "eval" / "unlearned"
    for stage in ("unlearn", "eval_unlearned", "localize"):
        assert rd.stage_path(stage) == rd.dir / "stages" / f"{stage}.json"
    with pytest.raises(ObliviateError, match="is not a run directory"):
        RunDir(_cfg(tmp_path, "run.name=n", f"run.base_run={tmp_path / 'nowhere'}"))


# computed with the pre-refactor pipeline.Run (commit e383647): existing run dirs stay reusable
BEFORE = {
    "tiny": {"base": "e3d4ffbba46af53d", "target": "17c3cb27be234f94",
             "retain": "db0b8658360f1521", "unlearn": "e1240b97111888e2",
             "eval_unlearned": "ee8923638b3ffeb8"},
    "org/some-model": {"base": "967c9730c305b695", "target": "51a9999d97ce0b0f",
                       "retain": "dd2be9381cd03639", "unlearn": "0618df2989975edb",
                       "eval_unlearned": "aebb84833d1075a4"},
}  # fmt: skip
HASHES = {"tokenizer": "18fb4444e98ceaad", "target": "b3c2b16878bbbe0d",
          "retain": "9648068e48f4454a", "unlearn": "e6e30e3fd83070c8", "eval": "02fc2f22d0ddc067"}  # fmt: skip


UNGROUPED = ["finetune.group_by_length=false", "unlearn.group_by_length=false"]


@pytest.mark.parametrize("model", list(BEFORE))
def test_fingerprints_are_the_pre_refactor_values(tmp_path, model):
    # model.template's default became auto (issue 13): on a hub model that is a different prompt
    # (its chat template), so the old fingerprints are those of the old setting, qa-tags
    old = [] if model == "tiny" else ["model.template=qa-tags"]
    old.append("eval.protocol=fixed")  # what obliviate computed before the protocols (issue 19)
    old += UNGROUPED  # and before length grouping (issue 18)
    rd = RunDir(_cfg(tmp_path, "run.name=fp", f"model.name_or_path={model}", *old))
    got = {"base": rd.fp_base(), "target": rd.fp_finetune("target"),
           "retain": rd.fp_finetune("retain"), "unlearn": rd.fp_unlearn(),
           "eval_unlearned": rd.fp_eval("unlearned")}  # fmt: skip
    assert got == BEFORE[model]
    assert {p: rd.data.hash(p) for p in HASHES} == HASHES
    assert rd.fp_model("unlearned") == rd.fp_unlearn()
    assert rd.fp_model("target") == rd.fp_finetune("target")
    # length grouping (the default) trains other batches: a new model, not the old run's
    grouped = RunDir(_cfg(tmp_path, "run.name=fp", f"model.name_or_path={model}", *old[:-2]))
    assert grouped.fp_base() == rd.fp_base()
    assert grouped.fp_finetune("target") != rd.fp_finetune("target")


def test_localize_fingerprint_is_the_pre_refactor_value(tmp_path):
    rd = RunDir(_cfg(tmp_path, "run.name=fp2", "unlearn.method=memflex", *UNGROUPED))
    assert rd.fp_localize() == "bbfbc3b2406b9a30"


def test_generated_data_enters_the_unlearning_fingerprint(tmp_path):
    rd = RunDir(_cfg(tmp_path, "run.name=g", "unlearn.method=relearn"))
    before = rd.fp_unlearn()
    path = rd.dir / "generated" / "relearn.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"id": "a"}\n')
    with_file = rd.fp_unlearn()
    assert with_file != before
    path.write_text('{"id": "b"}\n')
    assert rd.fp_unlearn() not in (before, with_file)
    assert rd.fp_finetune("target") == RunDir(_cfg(tmp_path, "run.name=h")).fp_finetune("target")


def test_run_data_loads_once_and_use_replaces_it(tmp_path):
    timings: dict[str, float] = {}
    data = RunData(_cfg(tmp_path).benchmark, timings)
    assert not data.loaded
    first = data.get()
    assert data.loaded and data.get() is first and "load_benchmark" in timings
    assert data.hash("eval") == HASHES["eval"]
    smaller = RunData(_cfg(tmp_path).benchmark).get()
    smaller.eval_sets = dict(list(smaller.eval_sets.items())[:1])
    data.use(smaller)
    assert data.get() is smaller and data.hash("eval") != HASHES["eval"]
