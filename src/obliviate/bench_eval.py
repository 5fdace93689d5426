"""``obliviate bench eval``: what every metric costs, measured side by side in one process.

One model of a finished run (default: the target) is evaluated under four evaluation configs,
in interleaved rounds after one untimed warm-up round (imports, first-call allocations):

- ``foundation``: the suite's default sets, its default metrics (the foundation suite);
- ``every_metric``: the same sets, ``eval.metrics=[all]`` (every metric computed from the shared
  passes: one scoring pass and one generation pass per set, plus the linguistic score's scorer
  pass over the generations and the MIA attacks' non-member set);
- ``foundation_all_sets`` / ``every_metric_all_sets``: the same two over ``eval.sets=[all]``.

The retain model's values that cross-model metrics need (forget quality, privleak, Reference
MIA) are computed once per config before timing, as the pipeline does. Reported per config:
median and min seconds over the rounds, items evaluated, and the ratios that matter: every
metric vs the foundation metrics on the same sets, and each config vs ``foundation``.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from .config import load_config
from .io import write_atomic, write_json
from .pipeline import Run

VARIANTS: dict[str, list[str]] = {
    "foundation": [],
    "every_metric": ["eval.metrics=[all]"],
    "foundation_all_sets": ["eval.sets=[all]"],
    "every_metric_all_sets": ["eval.metrics=[all]", "eval.sets=[all]"],
}
# config -> the config it is compared with on the same sets
SAME_SETS = {"every_metric": "foundation", "every_metric_all_sets": "foundation_all_sets"}


def machine() -> str:
    """One line naming where the numbers come from."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA), torch {torch.__version__}"
    return (
        f"{platform.machine()} CPU, {os.cpu_count()} cores, torch {torch.__version__} with "
        f"{torch.get_num_threads()} thread(s), no GPU"
    )


def bench_eval(
    base_run: str,
    config: str | None = None,
    overrides: list[str] | None = None,
    role: str = "target",
    rounds: int = 3,
    out: str | None = None,
) -> dict[str, Any]:
    """Time one model of ``base_run`` under every config of :data:`VARIANTS`; write a table."""
    evals = {
        name: load_config(config, [*(overrides or []), *extra]).eval
        for name, extra in VARIANTS.items()
    }
    run = Run(load_config(config, [*(overrides or []), f"run.base_run={base_run}",
                                   "run.name=bench_eval"]))  # fmt: skip
    model, tok = run.load(role)
    retain_values: dict[str, Any] = {}
    if role != "retain" and run.cfg.finetune.retain_model:
        r_model, r_tok = run.load("retain")
        for name, ec in evals.items():
            retain_values[name] = run.evaluate_model("retain", r_model, r_tok, None, ec)[2]
        del r_model
    seconds: dict[str, list[float]] = {name: [] for name in evals}
    items: dict[str, int] = {}
    for round_ in range(rounds + 1):  # round 0 warms up and is not counted
        for name, ec in evals.items():
            t0 = time.perf_counter()
            results = run.evaluate_model(role, model, tok, retain_values.get(name), ec)[0]
            if round_:
                seconds[name].append(time.perf_counter() - t0)
            items[name] = sum(len(r.items) for r in results.values())
    median = {name: statistics.median(s) for name, s in seconds.items()}
    rows = [
        {"config": name, "overrides": VARIANTS[name], "items": items[name],
         "median_s": round(median[name], 3), "min_s": round(min(seconds[name]), 3),
         "vs_foundation": round(median[name] / median["foundation"], 3),
         "vs_same_sets_foundation": round(median[name] / median[SAME_SETS[name]], 3)
         if name in SAME_SETS else None}
        for name in evals
    ]  # fmt: skip
    report = {"machine": machine(), "run": base_run, "model": role, "rounds": rounds, "rows": rows}
    out_path = Path(out) if out else run.dir / "bench_eval.md"
    write_atomic(out_path, render(report) + "\n")
    write_json(out_path.with_suffix(".json"), report)
    return report


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Machine: {report['machine']}. Model: {report['model']} of `{report['run']}`; "
        f"median of {report['rounds']} interleaved rounds after a warm-up round.",
        "",
        "| evaluation | overrides | items | median s | min s | vs foundation "
        "| every metric vs foundation metrics, same sets |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        same = f"{r['vs_same_sets_foundation']:.2f}x" if r["vs_same_sets_foundation"] else "–"
        lines.append(
            f"| {r['config']} | {' '.join(r['overrides']) or '(defaults)'} | {r['items']} | "
            f"{r['median_s']:.2f} | {r['min_s']:.2f} | {r['vs_foundation']:.2f}x | {same} |"
        )
    return "\n".join(lines)
