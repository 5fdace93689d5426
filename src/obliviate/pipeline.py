"""The whole run, top to bottom: fine-tune target → fine-tune retain → unlearn → eval all →
``metrics.json`` → ``report.md``.

The run directory is :class:`~obliviate.run_dir.RunDir` (layout, stage records, fingerprints),
its models :class:`~obliviate.run_models.RunModels`, each stage a function in
:mod:`obliviate.stages`; :class:`Run` bundles the three for callers that hold one object.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from . import distributed
from .config import Config
from .io import read_json, write_json
from .records import BenchmarkData
from .report.tables import write_report
from .run_dir import MODEL_ROLES, RETAIN_VALUES, RunDir
from .run_models import RunModels
from .stages import (
    LLMChat,
    ensure_model,
    evaluate_model,
    run_chat,
    stage_base,
    stage_eval,
    stage_finetune,
    stage_generate,
    stage_localize,
    stage_unlearn,
)

__all__ = ["MODEL_ROLES", "RETAIN_VALUES", "Run", "environment", "recorded_stage_info", "run_all",
           "write_metrics"]  # fmt: skip


def run_all(rd: RunDir, models: RunModels, chat: LLMChat | None = None) -> dict[str, Any]:
    """finetune target → finetune retain → unlearn → eval all → metrics.json → report."""
    t0 = time.perf_counter()
    stage_info = {"finetune_target": stage_finetune(rd, models, "target")}
    if rd.cfg.finetune.retain_model:
        stage_info["finetune_retain"] = stage_finetune(rd, models, "retain")
    stage_info["unlearn"] = stage_unlearn(rd, models)
    results = stage_eval(rd, models, chat=chat)
    metrics = write_metrics(rd, results, stage_info, time.perf_counter() - t0)
    if rd.cfg.eval.attacks:  # robustness attacks on the finished run (attacks/, report.md)
        from .attacks.runner import run_attacks

        distributed.on_main(run_attacks, rd, models, list(rd.cfg.eval.attacks))
    return metrics


def recorded_stage_info(rd: RunDir) -> dict[str, Any]:
    """The finished training-stage records in this run's own ``stages/`` (for ``obliviate eval``)."""
    info = {}
    for name in ("finetune_target", "finetune_retain", "unlearn"):
        path = rd.dir / "stages" / f"{name}.json"
        if path.is_file():
            info[name] = read_json(path)
    return info


def flag_invalid(values: dict[str, Any]) -> dict[str, Any]:
    """A model's metrics with ``<key>/invalid: true`` beside every non-finite number (written
    as null: ``metrics.json`` is strict JSON), so a NaN never reads as a score."""
    out = dict(values)
    for key, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            out[f"{key}/invalid"] = True
    return out


def write_metrics(
    rd: RunDir, models: dict[str, Any], stage_info: dict[str, Any], total: float
) -> dict[str, Any]:
    """Write ``metrics.json`` (per-model metrics, timings, training summaries) and the report."""
    timings = {k: round(v.get("seconds", 0.0), 3) for k, v in stage_info.items()}
    timings.update(rd.timings)
    timings["total_this_invocation"] = round(total, 3)
    metrics = {
        "benchmark": rd.cfg.benchmark.name,
        "method": rd.cfg.unlearn.method,
        "models": {role: flag_invalid(values) for role, values in models.items()},
        "timings": timings,
        "training": {k: v["training"] for k, v in stage_info.items() if "training" in v},
        "environment": environment(rd.cfg.run.seed),
    }
    distributed.on_main(_write, rd.dir, metrics)  # rank 0 writes; the others wait
    publish(rd, metrics)
    return metrics


def publish(rd: RunDir, metrics: dict[str, Any]) -> None:
    """Model cards with the metrics (:mod:`.model_card`) and ``run.report_to``'s trackers."""
    from .model_card import write_cards
    from .tracking import report_run

    write_cards(rd, metrics)
    distributed.on_main(report_run, rd, metrics)


def environment(seed: int) -> dict[str, Any]:
    """What the numbers depend on besides the config: library versions, the device, the torch
    thread count (metrics move in the last digits between thread counts) and the seed."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    libs = {}
    for name in ("obliviate", "torch", "transformers", "peft", "accelerate", "tokenizers",
                 "safetensors"):  # fmt: skip
        try:
            libs[name] = version(name)
        except PackageNotFoundError:
            libs[name] = None
    device = distributed.local_device()
    return {
        **libs,
        "python": platform.python_version(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "processes": distributed.world(),
        "torch_threads": torch.get_num_threads(),
        "seed": seed,
    }


def _write(run_dir: Path, metrics: dict[str, Any]) -> None:
    from .report.plots import run_plots

    write_json(run_dir / "metrics.json", metrics)
    run_plots(run_dir, metrics)  # plots/ first: the report embeds them
    write_report(run_dir)


class Run:
    """A config's run directory, its models and its LLM client, with the stages as methods
    (each one line over :mod:`obliviate.stages`)."""

    def __init__(self, cfg: Config, device: torch.device | None = None):
        self.cfg = cfg
        self.rd = RunDir(cfg)
        self.models = RunModels(self.rd, device)
        self.chat = run_chat(self.rd, self.models)
        self._checked = False

    def check(self) -> None:
        """The data's problems (empty sets, forget == retain, a method's missing retain set)
        as one ObliviateError, before any model is built (:func:`obliviate.checks.preflight`,
        as the CLI does); the training and evaluation stages call it once per Run."""
        if not self._checked:
            from .checks import preflight

            preflight(self.rd)
            self._checked = True

    @property
    def dir(self) -> Path:
        return self.rd.dir

    @property
    def data(self) -> BenchmarkData:
        return self.rd.data.get()

    @property
    def timings(self) -> dict[str, float]:
        return self.rd.timings

    @property
    def device(self) -> torch.device:
        return self.models.device

    def load(self, role: str, keep_adapter: bool = False):
        return self.models.load(role, keep_adapter)

    def model_dir(self, role: str) -> Path:
        return self.rd.model_dir(role)

    def data_hash(self, part: str) -> str:
        return self.rd.data.hash(part)

    def fp_base(self) -> str:
        return self.rd.fp_base()

    def fp_finetune(self, role: str) -> str:
        return self.rd.fp_finetune(role)

    def fp_unlearn(self) -> str:
        return self.rd.fp_unlearn()

    def fp_model(self, role: str) -> str:
        return self.rd.fp_model(role)

    def stage_base(self) -> str:
        return stage_base(self.rd)

    def stage_finetune(self, role: str = "target") -> dict[str, Any]:
        self.check()
        return stage_finetune(self.rd, self.models, role)

    def stage_generate(self, kind: str, force: bool = False) -> list[dict[str, Any]]:
        return stage_generate(self.rd, self.models, kind, force)

    def stage_localize(self) -> Path:
        return stage_localize(self.rd, self.models)

    def stage_unlearn(self) -> dict[str, Any]:
        self.check()
        return stage_unlearn(self.rd, self.models)

    def ensure_model(self, role: str) -> None:
        ensure_model(self.rd, self.models, role)

    def stage_eval(self, roles: list[str] | None = None) -> dict[str, Any]:
        self.check()
        return stage_eval(self.rd, self.models, roles, self.chat)

    def evaluate_model(self, role, model, tok, retain_vals, eval_cfg=None):
        """See :func:`obliviate.stages.evaluate_model`."""
        return evaluate_model(self.rd, self.models, role, model, tok, retain_vals, eval_cfg,
                              self.chat)  # fmt: skip

    def run_all(self) -> dict[str, Any]:
        self.check()
        return run_all(self.rd, self.models, self.chat)

    def write_metrics(
        self, models: dict[str, Any], stage_info: dict[str, Any], total: float
    ) -> dict[str, Any]:
        return write_metrics(self.rd, models, stage_info, total)
