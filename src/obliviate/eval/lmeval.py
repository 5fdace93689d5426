"""Utility through lm-evaluation-harness (optional extra ``lmeval``): any task list on a model.

``obliviate eval ... eval.lm_eval.tasks=[mmlu,arc_easy,piqa,truthfulqa_mc2,wmdp_bio]`` runs
``lm_eval.simple_evaluate`` on each evaluated model (the in-memory model and tokenizer, wrapped
in lm-eval's ``HFLM``) and merges the results into that model's metrics as
``lmeval/<task>/<metric>`` (``acc``, ``acc_norm``, ``exact_match_<filter>``...; standard errors
are dropped). ``eval.lm_eval.include_path`` adds a directory of custom task YAMLs (local data,
offline use; ``builtin_tasks=false`` skips indexing lm-eval's own tasks); ``num_fewshot`` (-1: each task's default), ``limit`` (0: every document) and
``batch_size`` are passed through. Task definitions and scoring are lm-eval's own.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import ObliviateError


def _import_lm_eval():
    try:
        import lm_eval
        from lm_eval.models.huggingface import HFLM
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise ObliviateError(
            "eval.lm_eval.tasks needs lm-evaluation-harness: pip install 'obliviate[lmeval]' "
            "(or leave eval.lm_eval.tasks empty)"
        ) from None
    return lm_eval, HFLM, TaskManager


OFFLINE_NAMES = ("Connection", "Offline", "Timeout", "EntryNotFound", "NotCached")


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it came from) says the hub could not be reached:
    ``ConnectionError`` (datasets' "Couldn't reach ... on the Hub"), huggingface_hub's
    ``OfflineModeIsEnabled`` / ``LocalEntryNotFoundError``, a timeout."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ConnectionError | TimeoutError):
            return True
        if any(n in t.__name__ for t in type(cur).__mro__ for n in OFFLINE_NAMES):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def flatten_results(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    """lm-eval ``results`` ({task: {"acc,none": x, "acc_stderr,none": s, "alias": ...}}) as
    ``lmeval/<task>/<metric>`` numbers; the ``none`` filter is left out of the name."""
    flat: dict[str, float] = {}
    for task, values in results.items():
        for key, value in values.items():
            metric, _, filt = key.partition(",")
            if "_stderr" in metric or metric == "sample_len" or isinstance(value, bool):
                continue
            if not isinstance(value, int | float):
                continue
            name = metric if filt in ("", "none") else f"{metric}_{filt}"
            flat[f"lmeval/{task}/{name}"] = float(value)
    return flat


def run_lm_eval(model: torch.nn.Module, tokenizer, cfg: Any, device: torch.device | str) -> dict:
    """Run ``cfg.tasks`` (an ``LMEvalConfig``) on ``model``; flat ``lmeval/...`` metrics."""
    lm_eval, hflm, task_manager_cls = _import_lm_eval()
    manager = task_manager_cls(
        include_path=cfg.include_path or None, include_defaults=cfg.builtin_tasks
    )
    unknown = [t for t in cfg.tasks if t not in manager.all_tasks]
    if unknown:
        raise ObliviateError(
            f"eval.lm_eval.tasks: {unknown} are not lm-eval tasks or groups (see `lm_eval "
            "--tasks list`; custom YAMLs go in eval.lm_eval.include_path)"
        )
    was_training = model.training
    lm = hflm(pretrained=model, tokenizer=tokenizer, batch_size=cfg.batch_size, device=str(device))
    try:
        out = lm_eval.simple_evaluate(
            model=lm,
            tasks=list(cfg.tasks),
            num_fewshot=None if cfg.num_fewshot < 0 else cfg.num_fewshot,
            limit=cfg.limit or None,
            task_manager=manager,
            log_samples=False,
            bootstrap_iters=0,
        )
    except Exception as exc:
        if not unreachable(exc):
            raise
        raise ObliviateError(
            f"eval.lm_eval.tasks={list(cfg.tasks)}: the task data could not be reached "
            f"({first_line(exc)}); lm-eval reads each task's dataset from the hub: run once "
            "online (the datasets cache keeps it), or point eval.lm_eval.include_path at task "
            "YAMLs over local files (dataset_path: json, data_files)"
        ) from None
    if was_training:
        model.train()
    if out is None:
        raise ObliviateError("lm-eval returned no results (non-zero rank in a distributed run)")
    return flatten_results(out["results"])
