"""The unlearning stage and what it may need first: generated data and a MemFlex region.

:class:`StageModels` gives generation the run's models, making the stage of a model first.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from .. import distributed
from ..benchmarks import rwku
from ..benchmarks.general import attach_general
from ..errors import ObliviateError
from ..generate.store import ensure_generated
from ..io import write_json
from ..methods import get_method_class
from ..methods.localize import LocalizeParams, localize
from ..models.scope import save_model, scope_model
from ..recipe import unlearn
from ..run_dir import MODEL_ROLES, RunDir
from ..run_models import RunModels
from ..tracking import say_stage
from .finetune import stage_base, stage_finetune


class StageModels:
    """A run's models for data generation (:class:`obliviate.generate.store.ModelSource`)."""

    def __init__(self, rd: RunDir, models: RunModels):
        self.rd, self.models = rd, models
        self.device: torch.device = models.device

    def ref(self, role: str) -> tuple[str, str]:
        """(local path or hub id, fingerprint) of a run's model: target, retain or base."""
        if role == "base":
            return self.models.base_src(), stage_base(self.rd)
        ensure_model(self.rd, self.models, role)
        return str(self.rd.model_dir(role)), self.rd.fp_model(role)

    def load(self, role: str) -> tuple[torch.nn.Module, Any]:
        return self.models.load(role)


def ensure_model(rd: RunDir, models: RunModels, role: str) -> None:
    """Run the stage that makes the model of ``role`` (reused when finished)."""
    if role == "unlearned":
        stage_unlearn(rd, models)
    elif role in ("target", "retain"):
        stage_finetune(rd, models, role)
    else:
        raise ObliviateError(f"eval.models: {role!r} unknown; accepted: {', '.join(MODEL_ROLES)}")


def stage_generate(
    rd: RunDir, models: RunModels, kind: str, force: bool = False
) -> list[dict[str, Any]]:
    """Generated training data (SPEC 5) in ``generated/<kind>.jsonl``: read, or made now.

    RWKU with ``benchmark.corpus_dir``: the corpus this step writes cannot be read yet, so the
    run loads the benchmark without a forget corpus (targets, intros, probes: what generation
    and the tiny model's stand-in need; :func:`obliviate.benchmarks.rwku.load`)."""
    bcfg = rd.cfg.benchmark
    if kind == "rwku_corpus" and bcfg.name == "rwku" and bcfg.corpus_dir and not rd.data.loaded:
        rd.data.use(attach_general(rwku.load(bcfg, with_corpus=False), bcfg))
    source = StageModels(rd, models)
    if distributed.world() > 1:  # training is collective: the target (MEMO, a local backend's
        stage_finetune(rd, models, "target")  # default model) before rank 0 goes on alone
    # rank 0 generates and writes generated/<kind>.jsonl; the others then read it
    distributed.on_main(ensure_generated, kind, rd.cfg, rd.data.get(), rd.dir, source, force=force)
    return ensure_generated(kind, rd.cfg, rd.data.get(), rd.dir, source)


def stage_localize(rd: RunDir, models: RunModels) -> Path:
    """MemFlex localisation (SPEC 4.1) of the target model under the unlearn scope.

    Writes ``localize/region.json`` (the selected tensor names plus every candidate's cosine
    and gradient magnitude); thresholds come from ``unlearn.params`` (e.g. ``sim_thresh``).
    """
    cfg, ucfg = rd.cfg, rd.cfg.unlearn
    fp = rd.fp_localize()
    path = rd.region_path()
    if rd.finished("localize", fp) and path.is_file():
        return path
    stage_finetune(rd, models, "target")
    rd.begin("localize")
    t0 = time.perf_counter()
    model, tok = models.load("target", keep_adapter=ucfg.scope == "lora")
    model = scope_model(model, ucfg, "unlearn", cfg.run.seed, str(rd.model_dir("target"))).model
    fmt = models.formatter(tok)
    data = rd.data.get()
    forget = [fmt.encode_record(r) for r in data.forget]
    retain = [fmt.encode_record(r) for r in data.retain]
    if not retain:
        raise ObliviateError(
            f"localisation needs retain data; benchmark {cfg.benchmark.name!r} has none"
        )
    lp = LocalizeParams.from_params(dict(ucfg.params))
    region = localize(model, forget, retain, fmt, lp, models.device, cfg.eval.batch_size)
    distributed.on_main(write_json, path, region.to_json())
    seconds = round(time.perf_counter() - t0, 3)
    rd.finish("localize", fp, {"seconds": seconds, "selected": len(region.names),
                               "candidates": len(region.stats)})  # fmt: skip
    return path


def stage_unlearn(rd: RunDir, models: RunModels) -> dict[str, Any]:
    """Unlearn the target model with the configured method and scope."""
    cfg, ucfg = rd.cfg, rd.cfg.unlearn
    method_cls = get_method_class(ucfg.method)
    if method_cls.needs_generated:  # generated training data first: its hash is fingerprinted
        stage_generate(rd, models, method_cls.needs_generated)
    fp = rd.fp_unlearn()
    done = rd.finished("unlearn", fp)
    if done:
        return done
    stage_finetune(rd, models, "target")
    rd.begin("unlearn")
    params = dict(ucfg.params)
    if method_cls.needs_region and not params.get("region_file"):
        params["region_file"] = str(stage_localize(rd, models))
    method = method_cls(params)
    method.protocol = cfg.eval.protocol  # the reference's training step or obliviate's (README)
    model, tok = models.load("target", keep_adapter=ucfg.scope == "lora")
    check_finite(model, "target", "it is not unlearned")
    out = unlearn(
        method, model, rd.data.get(), models.formatter(tok), ucfg, seed=cfg.run.seed,
        section="unlearn", adapter_base=str(rd.model_dir("target")), device=models.device,
        batch_size=cfg.eval.batch_size, load_model=lambda r: models.load(r)[0],
        log_path=rd.log_path("unlearn"), desc=f"unlearn {ucfg.method}",
        checkpoint=(ck := rd.checkpointing("unlearn", fp)),
    )  # fmt: skip
    state = out.result.state_dict if out.result is not None else None
    save_model(out.model, tok, rd.model_dir("unlearned"), ucfg.merge, state)
    prepare_s = out.prepare_seconds
    if out.result is None:
        info = {"method": ucfg.method, "prepare_seconds": round(prepare_s, 3),
                "seconds": prepare_s, "training": out.summary()}  # fmt: skip
    else:
        info = {
            "method": ucfg.method,
            "training": out.summary(),
            "reference": getattr(out.reference, "kind", "none"),
            "prepare_seconds": round(prepare_s, 3),
            "seconds": out.result.seconds + prepare_s,
        }
    rd.finish("unlearn", fp, info)
    ck.clear()
    say_stage("unlearn", info)
    return info


def check_finite(model: torch.nn.Module, role: str, consequence: str) -> None:
    """A one-line error naming ``role`` when any weight of ``model`` is NaN or infinite."""
    bad = [n for n, p in model.named_parameters() if not bool(torch.isfinite(p).all())]
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ObliviateError(
            f"the {role} model has non-finite weights ({', '.join(bad[:3])}{more}); "
            f"{consequence}: make it again (a lower learning rate, finetune.on_nan=stop)"
        )
