"""The base and fine-tune stages: the tiny base model, the target and retain models.

Fine-tuning is the ``sft`` method (:mod:`obliviate.methods.finetune`) run by the training recipe
(:func:`obliviate.recipe.unlearn`) on the fine-tune records under the ``finetune`` section.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import ObliviateError
from ..methods import get_method_class
from ..models.loading import save_pretrained
from ..models.scope import save_model
from ..models.tiny import build_tiny_model, train_tokenizer
from ..recipe import unlearn
from ..run_dir import RunDir
from ..run_models import RunModels
from ..tracking import say_stage


def stage_base(rd: RunDir) -> str:
    """Build the tiny base model + tokenizer (trained on the benchmark's text); its fingerprint."""
    fp = rd.fp_base()
    if not rd.is_tiny or rd.finished("base", fp):
        return fp
    cfg = rd.cfg
    rd.begin("base", rd.settings("base"))
    t0 = time.perf_counter()
    tok = train_tokenizer(rd.data.get().tokenizer_texts(), cfg.model.tokenizer_vocab)
    model = build_tiny_model(tok, cfg.model.tiny_preset, seed=cfg.run.seed)
    save_pretrained(model, tok, rd.model_dir("base"))
    rd.finish("base", fp, {"seconds": round(time.perf_counter() - t0, 3)}, rd.settings("base"))
    return fp


def stage_finetune(rd: RunDir, models: RunModels, role: str = "target") -> dict[str, Any]:
    """Fine-tune the target model (forget + retain) or the retain model (retain only)."""
    cfg = rd.cfg
    fp = rd.fp_finetune(role)
    done = rd.finished(f"finetune_{role}", fp)
    if done:
        return done
    stage = f"finetune_{role}"
    settings = rd.settings(stage)
    rd.begin(stage, settings)
    stage_base(rd)
    model, tok = models.load("base")
    if not cfg.finetune.enabled:
        if role == "retain":
            raise ObliviateError(
                "finetune.enabled=false leaves no retain model: set finetune.retain_model=false "
                "and drop 'retain' from eval.models, or give a retain model"
            )
        save_pretrained(model, tok, rd.model_dir(role))
        info: dict[str, Any] = {"training": {"steps": 0}, "seconds": 0.0}
        rd.finish(stage, fp, info, settings)
        return info
    data = rd.data.get()
    out = unlearn(
        get_method_class("sft")(), model, data, models.formatter(tok, "finetune"), cfg.finetune,
        seed=cfg.run.seed, section="finetune", adapter_base=models.base_src(),
        forget=data.finetune if role == "target" else data.finetune_retain,
        device=models.device, batch_size=cfg.eval.batch_size,
        load_model=lambda r: models.load(r)[0], log_path=rd.log_path(f"finetune_{role}"),
        desc=f"finetune {role}", checkpoint=(ck := rd.checkpointing(stage, fp)),
    )  # fmt: skip
    assert out.result is not None  # sft trains
    save_model(out.model, tok, rd.model_dir(role), cfg.finetune.merge, out.result.state_dict)
    info = {"training": out.result.summary(), "seconds": out.result.seconds}
    rd.finish(stage, fp, info, settings)
    ck.clear()
    say_stage(stage, info)
    return info
