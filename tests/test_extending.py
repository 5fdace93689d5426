"""A new benchmark is two definitions outside the package: a loader module (its settings
section and ``register_benchmark``) and a suite module (``@register_suite``). Written here as two
files in a temporary directory and imported before the CLI runs, they give a benchmark that
``obliviate run`` fine-tunes, unlearns and evaluates with no other file touched (ARCHITECTURE.md,
"To add ... a benchmark"). A subprocess keeps the extra registrations out of this test session."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

LOADER = """
from dataclasses import dataclass

from obliviate.benchmarks.registry import BenchmarkInfo, register_benchmark
from obliviate.config import section
from obliviate.records import BenchmarkData, EvalSet, QAItem

CAPITALS = [("France", "Paris"), ("Norway", "Oslo"), ("Peru", "Lima"), ("Kenya", "Nairobi")]


@section("benchmark")
@dataclass
class CapitalsSettings:
    capitals_count: int = 4


def load(cfg):
    items = [QAItem(f"What is the capital of {c}?", f"The capital of {c} is {k}.", subject=c,
                    id=f"capitals/{i}") for i, (c, k) in enumerate(CAPITALS[: cfg.capitals_count])]
    forget, retain = items[:1], items[1:]
    return BenchmarkData("capitals", finetune=items, finetune_retain=retain, forget=forget,
                         retain=retain, eval_sets={"forget": EvalSet("forget", forget),
                                                   "retain": EvalSet("retain", retain)})


register_benchmark(BenchmarkInfo("capitals", "toy: capital cities", load, "capitals"))
"""

SUITE = """
from obliviate.eval.suites.base import Suite, evaluate_qa_set, register_suite


@register_suite
class CapitalsSuite(Suite):
    name = "capitals"
    sets = ("forget", "retain")
    default_sets = ["forget", "retain"]
    headline = ["forget/rouge_l_recall", "retain/rouge_l_recall"]
    uses_retain_model = False

    def evaluate(self, data, ctx, sets=None):
        wanted = self.wanted(ctx)
        aggregate = {"forget": "closer_to_1", "retain": "true_better"}
        return {name: evaluate_qa_set(data.eval_sets[name].records, ctx, aggregate[name],
                                      metrics=wanted[name]) for name in self.set_names(sets)}
"""


def test_a_benchmark_added_in_two_modules_runs_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "capitals_benchmark.py").write_text(LOADER)
    (tmp_path / "capitals_suite.py").write_text(SUITE)
    out = tmp_path / "runs"
    overrides = ["benchmark.name=capitals", "benchmark.capitals_count=3", "run.name=caps",
                 f"run.out_dir={out}", "finetune.epochs=2", "unlearn.epochs=1",
                 "eval.max_new_tokens=8"]  # fmt: skip
    script = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); "
        "import capitals_benchmark, capitals_suite; from obliviate.cli import main; "
        f"raise SystemExit(main(['run', *{overrides!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((out / "caps" / "metrics.json").read_text())
    assert metrics["benchmark"] == "capitals"
    target, unlearned = metrics["models"]["target"], metrics["models"]["unlearned"]
    assert {"forget/rouge_l_recall", "retain/rouge_l_recall"} <= set(unlearned)
    assert unlearned["forget/prob"] < target["forget/prob"]  # NPO pushed the forget answer down
    # the setting reached the loader: 1 forget and 2 retain items were evaluated
    rows = (out / "caps" / "eval" / "unlearned" / "retain.jsonl").read_text().splitlines()
    assert len(rows) == 2
