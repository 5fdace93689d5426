"""The stages of a run, each a function of its run directory and models (plus its own inputs).

=============================  ==========================================================
``stage_base(rd)``             the tiny base model + tokenizer; returns its fingerprint
``stage_finetune(rd, m, role)`` the target (forget + retain) or retain model: method ``sft``
``stage_generate(rd, m, kind)`` generated training data (``generated/<kind>.jsonl``)
``stage_localize(rd, m)``      the MemFlex region (``localize/region.json``)
``stage_unlearn(rd, m)``       the unlearned model (:func:`obliviate.recipe.unlearn`)
``stage_eval(rd, m, roles)``   metrics per model (the retain model first)
=============================  ==========================================================

``rd`` is a :class:`~obliviate.run_dir.RunDir`, ``m`` its :class:`~obliviate.run_models.RunModels`.
A stage whose record matches its fingerprint is reused; a stage runs what it needs first.
"""

from .evaluate import LLMChat, evaluate_model, run_chat, stage_eval
from .finetune import stage_base, stage_finetune
from .unlearn import StageModels, ensure_model, stage_generate, stage_localize, stage_unlearn

__all__ = [
    "LLMChat",
    "StageModels",
    "ensure_model",
    "evaluate_model",
    "run_chat",
    "stage_base",
    "stage_eval",
    "stage_finetune",
    "stage_generate",
    "stage_localize",
    "stage_unlearn",
]
