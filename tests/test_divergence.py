"""A diverged model is never reported as forgetting (issue 14 item 1): a non-finite gradient
norm stops the stage with one line naming the stage and step, unless ``on_nan=skip_step``;
``metrics.json`` is strict JSON with ``<key>/invalid`` beside a non-finite value."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from obliviate.cli import main
from obliviate.config import load_config
from obliviate.errors import ObliviateError
from obliviate.io import write_json
from obliviate.pipeline import flag_invalid
from obliviate.training import TrainConfig, train

# the tiny preset (the quickstart's model), a small world: GA at lr 10 turns NaN in 3 steps
SMALL = ["benchmark.people=8", "benchmark.holdout_people=2", "model.tokenizer_vocab=400",
         "finetune.epochs=2", "eval.max_new_tokens=4"]  # fmt: skip


def _nan_after(n: int):
    """A loss that turns NaN from the n-th call on (the model's own loss before it)."""
    calls = {"n": 0}

    def loss_fn(model, batch):
        calls["n"] += 1
        out = sum(p.sum() for p in model.parameters()) * 0.0 + 1.0
        if calls["n"] >= n:
            out = out * float("nan")
        return out, {"forget_nll": 1.0}

    return loss_fn


def test_a_nan_loss_stops_training_naming_the_stage_and_step(nano_model) -> None:
    from obliviate.formatting import Encoded

    data = [Encoded([1, 2, 3], [-100, 2, 3])] * 8
    cfg = TrainConfig(max_steps=6, lr=1e-3, batch_size=2)
    with pytest.raises(ObliviateError) as err:
        train(nano_model, _nan_after(3), data, cfg, pad_id=0, seed=0, desc="unlearn")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("unlearn: diverged at optimizer step 3: gradient norm nan")
    assert "loss=nan" in message and "on_nan=skip_step" in message


def test_skip_step_drops_the_non_finite_updates_and_goes_on(nano_model) -> None:
    from obliviate.formatting import Encoded

    data = [Encoded([1, 2, 3], [-100, 2, 3])] * 8
    before = {n: p.detach().clone() for n, p in nano_model.named_parameters()}
    cfg = TrainConfig(max_steps=6, lr=1e-3, batch_size=2, on_nan="skip_step")
    result = train(nano_model, _nan_after(1), data, cfg, pad_id=0, seed=0)
    assert result.steps == 6
    for n, p in nano_model.named_parameters():  # every step was skipped: nothing moved
        assert torch.equal(p.detach(), before[n]), n
        assert torch.isfinite(p).all()


def test_ga_at_lr_10_stops_with_one_line_and_writes_no_metrics(tmp_path: Path, capsys) -> None:
    code = main(["run", *SMALL, f"run.out_dir={tmp_path}", "run.name=ga10", "unlearn.method=ga",
                 "unlearn.lr=10", "unlearn.epochs=5"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert "diverged at optimizer step" in err[-1] and "Traceback" not in "\n".join(err)
    assert not (tmp_path / "ga10" / "metrics.json").exists()


def test_metrics_json_is_strict_with_invalid_flags(tmp_path: Path) -> None:
    values = flag_invalid({"forget/prob": float("nan"), "retain/prob": 0.5,
                           "forget/ppl": math.inf})  # fmt: skip
    assert values["forget/prob/invalid"] and values["forget/ppl/invalid"]
    assert "retain/prob/invalid" not in values
    write_json(tmp_path / "m.json", {"models": {"unlearned": values}})
    text = (tmp_path / "m.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    parsed = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict {c}"))
    assert parsed["models"]["unlearned"]["forget/prob"] is None


@pytest.mark.parametrize("name", ["../../x", "/tmp/elsewhere", "a/b", "..", "~x"])
def test_run_name_stays_inside_out_dir(name: str) -> None:
    with pytest.raises(ObliviateError, match="would write outside run.out_dir"):
        load_config(None, [f"run.name={name}"])


def test_on_nan_accepts_only_its_values() -> None:
    with pytest.raises(ObliviateError, match="unlearn.on_nan='ignore' is unknown; accepted: "
                       "stop, skip_step"):  # fmt: skip
        load_config(None, ["unlearn.on_nan=ignore"])


def test_a_field_nan_on_every_item_is_reported_not_dropped() -> None:
    from obliviate.eval.suites.context import SetResult
    from obliviate.eval.suites.rows import MEAN_FIELDS, set_means

    name = next(iter(MEAN_FIELDS))
    res = SetResult()
    res.items = [{name: float("nan")}, {name: float("nan")}]
    set_means(res, {name})
    assert math.isnan(res.metrics[name])
    assert flag_invalid({f"forget/{name}": res.metrics[name]})[f"forget/{name}/invalid"] is True
    res.items = [{name: float("nan")}, {name: 0.25}]  # a NaN item among numbers is left out
    set_means(res, {name})
    assert res.metrics[name] == 0.25
