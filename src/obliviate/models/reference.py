"""The reference model π_ref: one object, several strategies (SPEC 3.0).

- :class:`FrozenCopy`: a frozen, eval-mode copy (only where per-token reference distributions
  are needed: KL, UNDIAL, RMU) under the ``full``/``layers``/``region`` scopes;
- :class:`AdapterReference`: with a LoRA scope, the *same* weights forwarded without the
  trainable adapter: (b) the base with adapters disabled when the adapter is fresh (ReLearn,
  RWKU; SPEC 8 item 30: RWKU's LoRA NPO had no reference at all), or a frozen snapshot of the
  initial adapter weights when an existing adapter is continued (KnowUnDo), where "adapters
  disabled" would be the wrong model. Never a second copy of the base weights;
- cached per-sequence log-probs (NPO, DPO) are not a model at all: methods compute them in
  ``prepare`` with :func:`obliviate.eval.scoring.score` and keep them in ``Context.ref_cache``.

Every strategy runs in eval mode (dropout off) without gradients and offers ``logits(batch)``
and ``forward(**kwargs)``.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from .batches import eval_mode, labelled_forward
from .scope import ADAPTER_NAME, Scoped

SNAPSHOT_ADAPTER = "obliviate_ref"


class Reference:
    """What every strategy offers: ``forward(**kwargs)`` and ``logits(batch)``."""

    def forward(self, **kwargs: Any):
        raise NotImplementedError

    @torch.no_grad()
    def logits(self, batch: dict[str, Any]) -> torch.Tensor:
        """Reference logits over the same positions as the trained model's
        (:func:`~obliviate.models.batches.labelled_forward`: from the earliest label on)."""
        return labelled_forward(_Forward(self), batch).logits  # type: ignore[arg-type]


class _Forward:
    """A reference strategy called like a module (its ``forward`` takes ``**kwargs``)."""

    def __init__(self, ref: Reference):
        self.forward = ref.forward

    def __call__(self, **kwargs: Any):
        return self.forward(**kwargs)


class FrozenCopy(Reference):
    """A deep copy of the starting model in eval mode with gradients off."""

    kind = "frozen_copy"

    def __init__(self, model: torch.nn.Module):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def forward(self, **kwargs: Any):
        return self.model(**kwargs)


class AdapterReference(Reference):
    """π_ref of a LoRA model, through the trained model itself (peft mixed-adapter forward).

    ``snapshot=False``: every sample runs with adapter ``"__base__"``, i.e. the base model with
    the adapter off. ``snapshot=True``: the current adapter weights are copied once into a
    second, frozen adapter (``obliviate_ref``, the size of the adapter only) and the reference
    forward uses it. Neither toggles ``requires_grad`` on the trained adapter (peft's
    ``disable_adapter()`` does), so a region restricted by a method stays as it is.
    """

    def __init__(self, model: torch.nn.Module, snapshot: bool = False):
        self.model = model
        self.adapter = "__base__"
        self.kind = "adapter_disabled"
        if snapshot:
            self._snapshot()
            self.adapter = SNAPSHOT_ADAPTER
            self.kind = "adapter_snapshot"

    def _snapshot(self) -> None:
        from peft import get_peft_model_state_dict, set_peft_model_state_dict

        model = self.model
        flags = {n: p.requires_grad for n, p in model.named_parameters()}
        model.add_adapter(SNAPSHOT_ADAPTER, copy.deepcopy(model.peft_config[ADAPTER_NAME]))
        state = get_peft_model_state_dict(model, adapter_name=ADAPTER_NAME)
        set_peft_model_state_dict(model, state, adapter_name=SNAPSHOT_ADAPTER)
        model.set_adapter(ADAPTER_NAME)
        for name, p in model.named_parameters():
            p.requires_grad_(flags.get(name, False))

    def forward(self, **kwargs: Any):
        n = kwargs["input_ids"].shape[0]
        with eval_mode(self.model):  # peft allows per-sample adapter names in eval mode only
            return self.model(**kwargs, adapter_names=[self.adapter] * n)


def make_reference(scoped: Scoped) -> FrozenCopy | AdapterReference:
    """The reference strategy for a scoped model (SPEC 3.0): LoRA never copies the base."""
    if scoped.adapter == "fresh":
        return AdapterReference(scoped.model)
    if scoped.adapter == "continued":
        return AdapterReference(scoped.model, snapshot=True)
    return FrozenCopy(scoped.model)
