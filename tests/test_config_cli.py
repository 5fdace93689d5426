"""A discoverable CLI (issue 17): `obliviate config` prints the resolved YAML, `--keys` every
key with its type, default and doc line, `--dry-run` the plan without writing anything; and an
offline lm-eval task is one line."""

from __future__ import annotations

import pytest
import yaml
from small_world import SMALL_WORLD

from obliviate.cli import main
from obliviate.config import default_config, to_dict
from obliviate.config_keys import all_keys
from obliviate.errors import ObliviateError
from obliviate.run_dir import flat


def test_config_keys_lists_every_key_with_its_default(capsys) -> None:
    assert main(["config", "--keys"]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_key = {line.split()[0]: line for line in lines}
    defaults = flat(to_dict(default_config()))
    assert set(defaults) <= set(by_key)  # every key ...
    extra = set(by_key) - set(defaults)  # ... and the mappings that are empty by default
    assert {"unlearn.params", "generate.targets"} <= extra
    assert all(" {} " in by_key[k] for k in extra)
    for key, value in defaults.items():
        assert repr(value) in by_key[key], key
    assert "derived as <benchmark>_<method>" in by_key["run.name"]  # the field's own comment
    assert "none | tensorboard | wandb | all" in by_key["run.report_to"]
    info = {k.key: k for k in all_keys()}
    assert [k for k, i in info.items() if not i.doc] == []  # a doc line for every key
    assert info["unlearn.lr"].type == "float" and info["unlearn.lr"].default == 1e-3


def test_config_prints_the_resolved_yaml(capsys) -> None:
    assert main(["config", "configs/quickstart.yaml", "unlearn.method=gd", "run.seed=3"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["unlearn"]["method"] == "gd" and cfg["run"]["seed"] == 3
    assert cfg["benchmark"]["name"] == "synthkb"


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys) -> None:
    out = tmp_path / "runs"
    args = [*SMALL_WORLD, f"run.out_dir={out}", "unlearn.max_steps=3", "eval.sets=[forget]"]
    assert main(["run", "--dry-run", *args]) == 0
    text = capsys.readouterr().out
    assert not out.exists()
    assert "dry run: nothing is written" in text
    stages = [line.split()[0] for line in text.splitlines() if line.startswith("  ")]
    assert stages[:6] == ["finetune_target", "finetune_retain", "unlearn", "eval_target",
                          "eval_retain", "eval_unlearned"]  # fmt: skip
    assert "unlearn: 3 optimizer steps" in text
    assert main(["eval", "--dry-run", *args]) == 0
    assert "estimate: about" in capsys.readouterr().out


TASK = """task: offline_arc
dataset_path: allenai/ai2_arc
dataset_name: ARC-Easy
test_split: test
output_type: multiple_choice
doc_to_text: "{{question}}"
doc_to_choice: "{{choices.text}}"
doc_to_target: 0
metric_list:
  - metric: acc
"""


def test_offline_lm_eval_task_is_one_line(tmp_path, monkeypatch, nano_model, tokenizer) -> None:
    pytest.importorskip("lm_eval")
    from obliviate.config import LMEvalConfig
    from obliviate.eval.lmeval import run_lm_eval

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    (tmp_path / "arc.yaml").write_text(TASK)
    cfg = LMEvalConfig(tasks=["offline_arc"], include_path=str(tmp_path), builtin_tasks=False,
                       limit=2)  # fmt: skip
    with pytest.raises(ObliviateError) as err:
        run_lm_eval(nano_model, tokenizer, cfg, "cpu")
    msg = str(err.value)
    assert "\n" not in msg and "eval.lm_eval.tasks=['offline_arc']" in msg
    assert "could not be reached" in msg and "include_path" in msg and "ai2_arc" in msg


@pytest.mark.slow
def test_offline_lm_eval_task_through_the_cli_exits_2(tmp_path, monkeypatch, capsys) -> None:
    pytest.importorskip("lm_eval")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    (tmp_path / "arc.yaml").write_text(TASK)
    args = [*SMALL_WORLD, f"run.out_dir={tmp_path / 'runs'}", "finetune.enabled=false",
            "finetune.retain_model=false", "eval.models=[target]", "eval.sets=[forget]",
            "eval.max_new_tokens=4", "eval.lm_eval.tasks=[offline_arc]",
            f"eval.lm_eval.include_path={tmp_path}", "eval.lm_eval.builtin_tasks=false"]  # fmt: skip
    assert main(["eval", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("obliviate: error: eval.lm_eval.tasks=['offline_arc']: the task")
    assert not any("Traceback" in line for line in err)


def test_an_unreachable_hub_model_is_one_line_exit_2(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    args = [*SMALL_WORLD, f"run.out_dir={tmp_path}", "model.name_or_path=someorg/not-cached"]
    assert main(["finetune", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith("obliviate: error: could not load model 'someorg/not-cached'")
    assert "point model.name_or_path at a local copy" in err


def test_report_to_is_checked_at_config_load() -> None:
    import importlib.util

    from obliviate.config import load_config

    with pytest.raises(ObliviateError, match="run.report_to='tensorbord' is unknown"):
        load_config(None, ["run.report_to=tensorbord"])
    if importlib.util.find_spec("wandb") is None:  # its library missing: said before training
        with pytest.raises(ObliviateError, match=r"needs wandb: pip install 'obliviate\[wandb\]'"):
            load_config(None, ["run.report_to=wandb"])
    else:
        assert load_config(None, ["run.report_to=wandb"]).run.report_to == "wandb"
