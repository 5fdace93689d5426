"""A run's models: loading a stage's saved model (or the base model) onto this rank's device.

The device comes from the process group (:func:`obliviate.distributed.local_device`), made
before any model is loaded: ``cuda:<local rank>`` under ``accelerate launch``, the CPU without
a GPU."""

from __future__ import annotations

from typing import Any

import torch

from .distributed import local_device
from .formatting import Formatter, chat_settings
from .models.loading import check_max_length, load_pretrained
from .models.scope import is_adapter_dir, load_adapter_model
from .run_dir import MODEL_ROLES, RunDir


def default_device() -> torch.device:
    """This rank's device (creates the process group when launched on several)."""
    return local_device()


class RunModels:
    """Loads the models of ``rd`` (run roles, the base model, hub ids) on ``device``."""

    def __init__(self, rd: RunDir, device: torch.device | None = None):
        self.rd = rd
        self.device = device or default_device()

    def formatter(self, tokenizer: Any, stage: str = "") -> Formatter:
        """The run's formatter; ``eval.protocol`` picks its token set (KnowUnDo's under paper,
        with the labelled EOS of KnowUnDo's fine-tuning when ``stage="finetune"``)."""
        m = self.rd.cfg.model
        system, args = chat_settings(self.rd.cfg)
        fmt = Formatter(tokenizer, m.template, m.max_length, system, self.rd.cfg.eval.protocol,
                        args)  # fmt: skip
        fmt.kud_eos = stage == "finetune"
        return fmt

    def base_src(self) -> str:
        """Where the base model comes from (recorded as the base of a fine-tune adapter)."""
        return str(self.rd.model_dir("base")) if self.rd.is_tiny else self.rd.cfg.model.name_or_path

    def load(self, role: str, keep_adapter: bool = False) -> tuple[torch.nn.Module, Any]:
        """Load a saved stage model (or the base model) with the Auto classes.

        A LoRA stage saved without ``merge`` is an adapter directory: base + adapter, merged
        in memory unless ``keep_adapter`` (a LoRA scope then continues that adapter).
        """
        mcfg = self.rd.cfg.model
        path = self.rd.model_dir(role) if role != "base" or self.rd.is_tiny else None
        if path is not None and is_adapter_dir(path):
            model, tok = load_adapter_model(
                path, mcfg.dtype, mcfg.trust_remote_code, keep=keep_adapter
            )
        else:
            src = path if path is not None else mcfg.name_or_path
            model, tok = load_pretrained(src, mcfg.dtype, mcfg.trust_remote_code)
        check_max_length(model, mcfg.max_length, f"the {role} model")
        return model.to(self.device), tok

    def load_any(self, name: str) -> tuple[torch.nn.Module, Any]:
        """A run role's model (target, retain, unlearned) or a hub id / path, on the device."""
        if name in (*MODEL_ROLES, "base"):  # base: the model before fine-tuning (ReLearn's PPL)
            return self.load(name)
        mcfg = self.rd.cfg.model
        model, tok = load_pretrained(name, mcfg.dtype, mcfg.trust_remote_code)
        return model.to(self.device), tok
