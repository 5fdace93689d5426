"""eval.metrics parsing and the metric registry."""

from __future__ import annotations

import pytest

from obliviate.cli import main
from obliviate.config import load_config
from obliviate.errors import ObliviateError
from obliviate.eval.metrics import METRICS
from obliviate.eval.suites.plan import ALL, DEFAULT, EXTRA_PASS, SELECTABLE, parse_plan

SETS = ["forget", "holdout", "retain"]


def test_every_selectable_metric_is_registered_and_listed(capsys) -> None:
    assert set(METRICS) >= SELECTABLE
    assert main(["list", "metrics"]) == 0
    out = capsys.readouterr().out
    for name in SELECTABLE:
        assert f"\n{name} " in "\n" + out, name
    assert out.count("source:") == len(METRICS)


def test_default_and_groups() -> None:
    assert parse_plan([], SETS).on("forget") == DEFAULT
    everything = parse_plan(["all"], SETS).on("retain")
    assert everything == ALL and not everything & EXTRA_PASS
    plan = parse_plan(["default", "privleak", "forget/mia_gradnorm"], SETS)
    assert "mia_min_k" in plan.on("retain")  # implied by privleak
    assert plan.mia_attacks("forget") == ["mia_min_k", "mia_gradnorm"]
    assert plan.mia_attacks("retain") == ["mia_min_k"]


def test_errors_name_the_key() -> None:
    with pytest.raises(ObliviateError, match=r"eval.metrics: 'mia_lose' is unknown.*mia_loss"):
        parse_plan(["mia_lose"], SETS)
    with pytest.raises(ObliviateError, match="names set 'nowhere'"):
        parse_plan(["nowhere/prob"], SETS)
    with pytest.raises(ObliviateError, match="without a set prefix"):
        parse_plan(["forget/privleak"], SETS)
    with pytest.raises(ObliviateError, match="eval.metrics"):
        load_config(None, ["eval.metrics=[bogus]"])
    with pytest.raises(ObliviateError, match="eval.backend='tpu' is unknown; accepted: hf, vllm"):
        load_config(None, ["eval.backend=tpu"])
