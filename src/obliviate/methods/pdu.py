"""PDU: primal-dual unlearning (Entesari et al. 2025, "Constrained Entropic Unlearning: A
Primal-Dual Framework for Large Language Models"; OU ``PDU``), SPEC 3.2.

Forget: flatten the next-token logits, L_f = Σ_t m_t (max_v z_t,v − mean_v z_t,v)² / Σ_t m_t over
the shifted answer mask (``losses.logit_spread_loss``). Retain: a constraint L_r ≤ ε with
L_r = CE_batch(D_r), handled by a Lagrange multiplier λ:
L = γ·L_f + λ·(L_r − ε), and (once ``dual_warmup_epochs`` forget epochs have passed) the dual
ascent λ ← max(0, λ + η·(L_r − ε)):

- ``eval.protocol=paper`` / ``ou``: after every micro-batch's loss, with that micro-batch's
  retain loss, as open-unlearning's ``PDU.final_loss_value`` does (``src/trainer/unlearn/pdu.py``
  l. 57-62, commit d3d7cf9e; its loss uses λ before the update; with OU's default gradient
  accumulation 4, ``configs/trainer/finetune.yaml``, λ moves 4 times per optimizer step);
- ``fixed``: once per optimizer step, after it, with the last micro-batch's retain loss (one
  dual step per primal step, as the primal-dual method is stated).

With ``grad_accum=1`` on one process both are the same.
λ is logged as ``dual``. OU TOFU script: λ0 = 100, η = 5, ε = 0.3, warmup 5 epochs, lr 1e-5.
ε has no sensible default (it is a retain-loss level of the model at hand): it is required.
OU's per-epoch dual update over the whole retain set is not implemented; OU's forget loss over
every unshifted position is SPEC 8 item 8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ObliviateError
from .base import Context, Method, forward_logits, register
from .losses import logit_spread_loss, sequence_nll


def dual_update(lam: float, retain: float, epsilon: float, step_size: float) -> float:
    """Projected dual ascent: λ ← max(0, λ + η·(L_r − ε))."""
    return max(0.0, lam + step_size * (retain - epsilon))


@dataclass
class PDUParams:
    RANGES = {
        "epsilon": "required",
        "gamma": ">= 0",
        "dual_init": ">= 0",
        "dual_step_size": ">= 0",
        "dual_warmup_epochs": ">= 0",
    }  # not a field: value ranges checked at config load (obliviate.checks)
    epsilon: float | None = None
    gamma: float = 1.0
    dual_init: float = 100.0
    dual_step_size: float = 5.0
    dual_warmup_epochs: float = 5.0


@register
class PDU(Method):
    name = "pdu"
    description = "primal-dual: flatten forget logits s.t. retain NLL <= epsilon (dual variable)"
    Params = PDUParams
    needs_retain = True

    @classmethod
    def protocol_changes_training(cls, params: dict[str, Any], benchmark: str) -> bool:
        return True  # when λ moves (per micro-batch or per step)

    def __init__(self, params: dict[str, Any] | None = None):
        super().__init__(params)
        if self.p.epsilon is None:
            raise ObliviateError(
                "method 'pdu' needs unlearn.params.epsilon, the bound on the retain loss "
                "(OU TOFU: 0.3); it has no default"
            )
        if not isinstance(self.p.epsilon, (int, float)) or isinstance(self.p.epsilon, bool):
            raise ObliviateError(f"unlearn.params.epsilon={self.p.epsilon!r}: expected a number")
        self.dual = float(self.p.dual_init)
        self._seen = 0  # forget items consumed, to count epochs for the warmup
        self._seen_before_step = 0

    def warm(self, seen: int, ctx: Context) -> bool:
        """Whether ``seen`` forget items complete the ``dual_warmup_epochs`` (OU: updates are
        enabled at the end of the warmup epoch, ``DualOptimizationCallback.on_epoch_end``)."""
        return seen >= self.p.dual_warmup_epochs * max(1, len(ctx.forget))

    def loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        warm = self.warm(self._seen, ctx)  # the items before this micro-batch
        self._seen += len(fb["index"])
        forget = logit_spread_loss(forward_logits(model, fb), fb["labels"])
        rb = batch["retain"]
        retain = sequence_nll(forward_logits(model, rb), rb["labels"])
        total = self.p.gamma * forget + self.dual * (retain - float(self.p.epsilon))
        parts = {"forget_loss": float(forget.detach()), "retain_loss": float(retain.detach()),
                 "dual": self.dual}  # fmt: skip
        if self.reference_protocol and warm:  # OU: every micro-batch, after its loss
            self.dual = dual_update(self.dual, parts["retain_loss"], float(self.p.epsilon),
                                    self.p.dual_step_size)  # fmt: skip
        return total, parts

    def after_step(self, ctx: Context, parts: dict[str, float]) -> None:
        """``fixed``: dual ascent with this step's retain loss once the warmup epochs ended
        before it (the paper / ou protocol updates in ``loss``, every micro-batch)."""
        warm = self.warm(self._seen_before_step, ctx)
        self._seen_before_step = self._seen
        if warm and not self.reference_protocol:  # fixed: once per optimizer step
            self.dual = dual_update(self.dual, parts["retain_loss"], float(self.p.epsilon),
                                    self.p.dual_step_size)  # fmt: skip
