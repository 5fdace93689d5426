"""Unlearning with adversarial samples (KnowUnDo baseline), SPEC 3.2.

An adversary model scores each forget example once, before training, in one batched
teacher-forced pass: at every labelled answer position the gold next token is set to −∞ and the
label becomes the argmax of the rest (KUD: top-k 1, top-p 1.0). The model then descends
L = CE_batch(adversarial labels | forget input). KUD's adversary is the *original* chat model, not
the fine-tuned one (``adversary=base``; for the tiny model that is its random initialisation);
``adversary=target`` uses the model being unlearned. KUD's sampler is off by one, masks vocabulary
id −1 and relabels the prompt (SPEC 8 item 20); here the excluded token is exactly the next-token
target, only answer positions change, and pad/BOS/UNK are never chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ObliviateError
from ..formatting import IGNORE_INDEX, Encoded, collate_right
from .base import Context, forward_logits, register
from .sft import ForgetSFT

ADVERSARIES = ("base", "target")


def adversarial_labels(
    logits: torch.Tensor, labels: torch.Tensor, exclude_ids: list[int]
) -> torch.Tensor:
    """Labels [B, T] where each labelled y_t becomes argmax_{v ≠ y_t, v ∉ exclude} z_{t−1, v}.

    ``logits`` [B, T, V] (position t−1 predicts token t), or [B, K, V]: the last K positions
    (``base.forward_logits``); unlabelled positions stay −100.
    """
    start = labels.shape[1] - logits.shape[1] + 1  # 1 for full logits
    target = labels[:, start:]
    mask = target != IGNORE_INDEX
    z = logits[:, :-1][mask].float()  # [N, V]: labelled positions only (a copy, not a view)
    gold = target[mask]
    z.scatter_(-1, gold.unsqueeze(-1), float("-inf"))
    if exclude_ids:
        z[:, exclude_ids] = float("-inf")
    out = labels.clone()
    out[:, start:][mask] = z.argmax(dim=-1)
    return out


@dataclass
class AdversarialParams:
    adversary: str = "base"


@register
class Adversarial(ForgetSFT):
    name = "adversarial"
    description = "fine-tune toward the adversary's top-1 non-gold token (KnowUnDo), precomputed"
    Params = AdversarialParams

    def __init__(self, params: dict[str, Any] | None = None):
        super().__init__(params)
        if self.p.adversary not in ADVERSARIES:
            raise ObliviateError(
                f"unlearn.params.adversary={self.p.adversary!r}; accepted: {', '.join(ADVERSARIES)}"
            )

    @torch.no_grad()
    def prepare(self, model: torch.nn.Module, ctx: Context) -> None:
        """Relabel every forget example in place (``ctx.forget`` is the training list)."""
        if self.p.adversary == "base":
            if ctx.load_model is None:
                raise ObliviateError("adversary=base needs the base model; none can be loaded")
            adversary = ctx.load_model("base")
        else:
            adversary = model
        was_training = adversary.training
        adversary.eval()
        tok = ctx.formatter.tok
        exclude = [i for i in tok.all_special_ids if i != tok.eos_token_id]
        for start in range(0, len(ctx.forget), ctx.batch_size):
            chunk = ctx.forget[start : start + ctx.batch_size]
            batch = {
                k: v.to(ctx.device) for k, v in collate_right(chunk, ctx.formatter.pad_id).items()
            }
            new = adversarial_labels(forward_logits(adversary, batch), batch["labels"], exclude)
            for j, enc in enumerate(chunk):
                ctx.forget[start + j] = Encoded(enc.input_ids, new[j, : len(enc.labels)].tolist())
        if adversary is model and was_training:
            model.train()
        del adversary
