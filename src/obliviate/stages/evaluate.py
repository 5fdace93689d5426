"""The evaluation stage: every model through the benchmark's suite, the retain model first."""

from __future__ import annotations

import time
from typing import Any

import torch

from .. import distributed
from ..benchmarks import BENCHMARKS
from ..config import Config
from ..errors import ObliviateError
from ..eval.generation import make_generator
from ..eval.lmeval import run_lm_eval
from ..eval.suites import get_suite
from ..eval.suites.base import EvalContext
from ..eval.suites.tofu import read_retain_values
from ..generate.store import ModelSource, make_backend
from ..generation.backend import Backend
from ..generation.vllm import VLLMBackend, engine_kwargs
from ..io import read_json, write_json, write_jsonl
from ..methods import get_method_class
from ..run_dir import MODEL_ROLES, RETAIN_VALUES, RunDir
from ..run_models import RunModels
from ..tracking import say_stage
from .unlearn import StageModels, check_finite, ensure_model


class LLMChat:
    """One greedy user turn through the ``generate`` backend (built on first use, cached)."""

    def __init__(self, cfg: Config, models: ModelSource):
        self.cfg, self.models = cfg, models
        self._backend: Backend | None = None

    def __call__(self, prompt: str) -> str:
        if self._backend is None:
            self._backend = make_backend(self.cfg, self.models)
            if self._backend is None:
                raise ObliviateError(
                    "an LLM is needed (eval.kfr_krr.entity_extractor=llm) but "
                    "generate.backend=offline; accepted: hf, vllm, openai"
                )
        messages = [{"role": "user", "content": prompt}]
        return self._backend.chat(messages, temperature=0.0, max_tokens=256)[0]


def run_chat(rd: RunDir, models: RunModels) -> LLMChat:
    """The run's LLM client (KFR/KRR entity extraction); it serves run roles from ``models``."""
    return LLMChat(rd.cfg, StageModels(rd, models))


def stage_eval(
    rd: RunDir, models: RunModels, roles: list[str] | None = None, chat: LLMChat | None = None
) -> dict[str, Any]:
    """Evaluate each model on the suite; forget quality uses the retain model's values.

    Seconds per model go to ``rd.timings["eval_<role>"]``; returns metrics per role."""
    cfg = rd.cfg
    chat = chat or run_chat(rd, models)
    roles = roles or list(cfg.eval.models)
    # the retain model goes first: every other model's forget quality needs its values
    needs_retain = cfg.finetune.retain_model
    order = sorted(set(roles) | ({"retain"} if needs_retain else set()),
                   key=lambda r: (r != "retain", MODEL_ROLES.index(r)))  # fmt: skip
    per_model: dict[str, dict[str, Any]] = {}
    # the retain model's values other models' metrics compare against (retain_values.json):
    # per-item forget truth ratios (forget quality), per-item NLL (Reference MIA), its MIA
    # AUC (privleak).
    retain_vals: dict[str, Any] | None = None
    external_tr = cfg.eval.retain_tr_file
    if external_tr:  # the retain model's forget truth ratios from a file or another run
        # a run directory (its RETAIN_VALUES), a retain_values.json, a list, an OU eval log
        # (and its Min-K% AUC for privleak where the file holds it)
        retain_vals = read_retain_values(external_tr)
    for role in order:
        ensure_model(rd, models, role)
        values: dict[str, Any] | None = None
        fp = rd.fp_eval(role)
        done = rd.finished(f"eval_{role}", fp)
        if not done and rd.home(f"eval_{role}") != rd.dir:  # run.base_run is read-only
            rd.use_eval(role)
            done = rd.finished(f"eval_{role}", fp)
        out_dir = rd.eval_dir(role)
        if done:
            if role == "retain" and (out_dir / RETAIN_VALUES).is_file():
                values = read_json(out_dir / RETAIN_VALUES)
            metrics = read_json(out_dir / "metrics.json")
            rd.timings[f"eval_{role}"] = done.get("seconds", 0.0)
        else:
            rd.begin(f"eval_{role}")
            t0 = time.perf_counter()
            model, tok = models.load(role)
            check_finite(model, role, "it is not evaluated")
            results, metrics, values = evaluate_model(
                rd, models, role, model, tok, retain_vals, chat=chat
            )
            distributed.on_main(_write_eval, out_dir, results, metrics,
                                values if role == "retain" else None)  # fmt: skip
            seconds = round(time.perf_counter() - t0, 3)
            rd.timings[f"eval_{role}"] = seconds
            rd.finish(f"eval_{role}", fp, {"seconds": seconds})
            items = sum(len(r.items) for r in results.values())
            say_stage(f"eval_{role}", {"seconds": seconds}, items)
            del model
        if role == "retain":
            retain_vals = {**(values or {}), **(retain_vals or {})}
        if role in roles:
            per_model[role] = metrics
    return {role: per_model[role] for role in MODEL_ROLES if role in per_model}


def _generator(ec: Any, model, tok, device, model_dir: str, dtype: str):
    """``eval.backend``: HF on the in-memory model, or a vLLM engine on the saved model with the
    ``eval.vllm_*`` settings (an adapter run through vLLM's LoRA support)."""
    if ec.backend != "vllm":
        return make_generator(ec.backend, model, tok, ec.batch_size, device, model_dir, dtype)
    name, kw = engine_kwargs(ec, model_dir)
    return VLLMBackend(name, dtype, tok, setting="eval.backend", seed=0, **kw)


def _write_eval(out_dir, results, metrics, values) -> None:
    """Rank 0's eval files: per-set rows, metrics, the retain values, the per-rank item counts
    of every sharded pass (``shards.json``)."""
    if values is not None:
        write_json(out_dir / RETAIN_VALUES, values)
    for name, res in results.items():
        write_jsonl(out_dir / f"{name}.jsonl", res.items)
    write_json(out_dir / "metrics.json", metrics)
    write_json(out_dir / "shards.json", distributed.SHARD_LOG)


def evaluate_model(
    rd: RunDir,
    models: RunModels,
    role: str,
    model: torch.nn.Module,
    tok: Any,
    retain_vals: dict[str, Any] | None,
    eval_cfg: Any = None,
    chat: LLMChat | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """One model through the suite: (per-set results, metrics, the retain model's values
    when ``role`` is ``retain``, else None). ``eval_cfg`` replaces ``cfg.eval``."""
    cfg, data, device = rd.cfg, rd.data.get(), models.device
    ec = eval_cfg or cfg.eval
    suite = get_suite(BENCHMARKS[cfg.benchmark.name].suite)
    ctx = EvalContext(
        model, tok, models.formatter(tok), ec.batch_size, ec.max_new_tokens, device,
        config=ec,
        generator=_generator(ec, model, tok, device, str(rd.model_dir(role)), cfg.model.dtype),
        load_model=models.load_any, role=role, chat=chat or run_chat(rd, models),
    )  # fmt: skip
    if role == "unlearned":  # in-context methods prompt the unlearned model
        method = get_method_class(cfg.unlearn.method)(dict(cfg.unlearn.params))
        method.prepare_eval(data)
        ctx.prefix = method.eval_prefix
    distributed.SHARD_LOG.clear()  # the sharded passes of this model's evaluation
    # every rank runs the suite (its model passes are sharded and gathered back in order);
    # the metrics are computed once, on rank 0 (the other ranks return none)
    results = suite.evaluate(data, ctx, list(ec.sets) or None)
    values = suite.retain_values(results) if role == "retain" else None
    if not distributed.is_main():
        return results, {}, values
    metrics = suite.aggregate(results, values if role == "retain" else retain_vals)
    if ec.lm_eval.tasks:  # the harness runs its own loop: on rank 0, the whole task
        metrics |= run_lm_eval(model, tok, ec.lm_eval, device)
    return results, metrics, values
