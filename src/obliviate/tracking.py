"""Experiment tracking through accelerate's trackers: ``run.report_to=none|tensorboard|wandb|all``.

When a run's metrics are written, :func:`report_run` sends to each tracker (accelerate's
``TensorBoardTracker`` / ``WandBTracker``, project = ``run.out_dir``'s name, run = the run name):

- the resolved config: flat ``section.key`` hyperparameters and the YAML as text ``config``;
- every training log ``logs/<stage>.jsonl``: ``<stage>/<part>`` (``loss`` and each loss part)
  and ``<stage>/lr`` at the logged optimizer steps;
- the evaluation: ``eval/<role>/<metric key>`` of every model in ``metrics.json`` (step 0).

TensorBoard writes its event files under ``<run>/tensorboard/<run name>/`` (replaced at each
invocation, which logs the whole run again; needs
``tensorboard``: ``pip install 'obliviate[tensorboard]'``); W&B logs where ``wandb login`` /
``WANDB_*`` point (``pip install 'obliviate[wandb]'``). No API key is read or written by
obliviate: the trackers' own login applies.

:func:`say_stage` is the console side: the one line printed when each stage ends (steps and
tokens/s of a training stage, items and items/s of an evaluation, seconds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import section, validator
from .errors import ObliviateError

TRACKERS = ("tensorboard", "wandb")
CHOICES = ("none", *TRACKERS, "all")


@section("run")
@dataclass
class TrackingConfig:
    report_to: str = "none"  # none | tensorboard | wandb | all (accelerate's trackers)


MODULES = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",)}


@validator
def _check_report_to(cfg: Any) -> None:
    """A known value, and its tracker's library installed (checked at config load: a missing
    one would otherwise be found only after the run's training)."""
    if cfg.run.report_to not in CHOICES:
        from .errors import did_you_mean

        raise ObliviateError(
            f"run.report_to={cfg.run.report_to!r} is unknown; "
            f"{did_you_mean(cfg.run.report_to, list(CHOICES))}"
        )
    import importlib.util

    for name in wanted(cfg.run.report_to):
        if not any(importlib.util.find_spec(m) for m in MODULES[name]):
            raise ObliviateError(f"run.report_to={cfg.run.report_to} needs {name}: pip install "
                                 f"'obliviate[{name}]' (or run.report_to=none)")  # fmt: skip


def wanted(report_to: str) -> list[str]:
    return list(TRACKERS) if report_to == "all" else [] if report_to == "none" else [report_to]


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested config -> ``{"a.b": scalar}`` (lists and None as text: hparams take scalars)."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    key = prefix[:-1]
    out[key] = data if isinstance(data, bool | int | float | str) else json.dumps(data)
    return out


def make_tracker(name: str, run_name: str, run_dir: Path, project: str):
    """An accelerate tracker, started; a missing library is one line naming the extra."""
    from accelerate.tracking import TensorBoardTracker, WandBTracker
    from accelerate.utils import is_tensorboard_available, is_wandb_available

    if name == "tensorboard":
        if not is_tensorboard_available():
            raise ObliviateError("run.report_to=tensorboard needs tensorboard: pip install "
                                 "'obliviate[tensorboard]' (or run.report_to=none)")  # fmt: skip
        import shutil

        # every invocation logs the whole run again: the earlier event files would repeat it
        shutil.rmtree(run_dir / "tensorboard" / run_name, ignore_errors=True)
        tracker = TensorBoardTracker(run_name, str(run_dir / "tensorboard"))
    else:
        if not is_wandb_available():
            raise ObliviateError("run.report_to=wandb needs wandb: pip install 'obliviate[wandb]' "
                                 "(or run.report_to=none)")  # fmt: skip
        tracker = WandBTracker(project, name=run_name)
    if hasattr(tracker, "start"):
        tracker.start()
    return tracker


def report_run(rd: Any, metrics: dict[str, Any]) -> list[str]:
    """Send the run's config, training logs and metrics to ``run.report_to``'s trackers;
    the names of the trackers written to."""
    names = wanted(rd.cfg.run.report_to)
    if not names:
        return []
    from .config import to_dict, to_yaml
    from .report.plots import read_log

    project = Path(rd.cfg.run.out_dir).resolve().name or "obliviate"
    cfg = to_dict(rd.cfg)
    for name in names:
        tracker = make_tracker(name, rd.dir.name, rd.dir, project)
        tracker.store_init_configuration(_flat(cfg))
        tracker.log({"config": to_yaml(rd.cfg)}, step=0)
        for log in sorted((rd.dir / "logs").glob("*.jsonl")):
            for entry in read_log(log):
                values = {f"{log.stem}/{k}": float(v) for k, v in entry.items()
                          if k != "step" and isinstance(v, int | float)}  # fmt: skip
                tracker.log(values, step=int(entry["step"]))
        for role, values in metrics.get("models", {}).items():
            nums = {f"eval/{role}/{k}": float(v) for k, v in values.items()
                    if isinstance(v, int | float) and not isinstance(v, bool)}  # fmt: skip
            if nums:
                tracker.log(nums, step=0)
        tracker.finish()
    return names


def stage_line(stage: str, info: dict[str, Any], items: int | None = None) -> str:
    """The one line said on stderr when a stage ends: its steps, tokens/s and seconds (training)
    or its items and items/s (evaluation)."""
    seconds = float(info.get("seconds") or 0.0)
    parts = []
    t = info.get("training") or {}
    if t.get("steps"):
        parts.append(f"{t['steps']} steps, {t.get('tokens_per_s', 0):.0f} tokens/s")
    if items is not None:
        rate = f", {items / seconds:.1f} items/s" if seconds > 0 else ""
        parts.append(f"{items} items{rate}")
    parts.append(f"{seconds:.1f} s")
    return f"obliviate: {stage} done: " + ", ".join(parts)


def say_stage(stage: str, info: dict[str, Any], items: int | None = None) -> None:
    """Print :func:`stage_line` on the main process."""
    import sys

    from . import distributed

    if distributed.is_main():
        print(stage_line(stage, info, items), file=sys.stderr)
