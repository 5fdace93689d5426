"""The eval-mode batch loop of every model pass that is not training (scoring, generation,
localisation gradients, MIA gradients, reference forwards).

``with eval_mode(model): for idx, batch in batches(items, bs, collate, device): ...``:
dropout off and no autograd graph (``grad=True`` keeps gradients, for GradNorm and MemFlex) for
the duration, the model's train/eval mode restored afterwards even on error; items in
length-sorted batches (stable sort, so equal lengths keep their order; ``sort=False`` keeps the
input order), collated (e.g. ``formatting.collate_left``/``collate_right``) and moved to the
device, each with the indices of its items so results go back in input order.

:func:`labelled_forward` is the training losses' forward: logits only from the earliest
labelled position of the batch on (``logits_to_keep``), so no vocabulary-sized tensor is built
(or kept for backward) at the prompt's positions.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch
from tqdm.auto import tqdm

T = TypeVar("T")


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module, grad: bool = False) -> Iterator[torch.nn.Module]:
    """``model.eval()`` (and ``torch.no_grad()`` unless ``grad``), train mode restored after."""
    was_training = model.training
    model.eval()
    try:
        with contextlib.nullcontext() if grad else torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def length(item: Any) -> int:
    """Token count of a prompt (a list of ids) or an ``Encoded`` item."""
    return len(getattr(item, "input_ids", item))


def batches(
    items: Sequence[T],
    batch_size: int,
    collate: Callable[[list[T]], dict[str, torch.Tensor]],
    device: torch.device | str = "cpu",
    sort: bool = True,
) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
    """``(indices, collated batch on device)`` over ``items``, shortest first when ``sort``.
    A pass of more than one batch shows a progress bar (items, items/s) on the local main
    process (``TQDM_DISABLE=1`` hides it)."""
    order = list(range(len(items)))
    if sort:
        order.sort(key=lambda i: length(items[i]))
    quiet = len(order) <= batch_size or os.environ.get("LOCAL_RANK", "0") != "0"
    bar = tqdm(total=len(order), desc="model pass", unit="item", leave=False, disable=quiet)
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = collate([items[i] for i in idx])
            yield idx, {k: v.to(device) for k, v in batch.items()}
            bar.update(len(idx))
    finally:
        bar.close()


IGNORE_INDEX = -100


def accepts_logits_to_keep(model: torch.nn.Module) -> bool:
    """Whether ``model.forward`` takes ``logits_to_keep`` (transformers causal LMs; wrappers such
    as peft or DDP pass ``**kwargs`` through)."""
    params = inspect.signature(model.forward).parameters.values()
    return any(p.name == "logits_to_keep" or p.kind is p.VAR_KEYWORD for p in params)


def labelled_window(labels: torch.Tensor) -> int:
    """K = T − f + 1 for the earliest labelled column f of the batch (K ≤ T): the positions
    f − 1 … T − 1 whose logits predict every labelled token (position t predicts t + 1)."""
    t = labels.shape[1]
    cols = (labels != IGNORE_INDEX).any(0).nonzero()
    first = int(cols[0]) if len(cols) else t - 1
    return min(t, t - first + 1)


def labelled_forward(model: torch.nn.Module, batch: dict[str, torch.Tensor], **kwargs: Any):
    """``model(input_ids, attention_mask)`` whose ``.logits`` are [B, K, V], the last K positions
    (:func:`labelled_window`); losses align them with the labels' last K columns
    (``methods.losses.shift``). A model without ``logits_to_keep`` is sliced afterwards."""
    keep = labelled_window(batch["labels"]) if "labels" in batch else batch["input_ids"].shape[1]
    if keep < batch["input_ids"].shape[1] and accepts_logits_to_keep(model):
        kwargs["logits_to_keep"] = keep
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **kwargs)
    out.logits = out.logits[:, -keep:]
    return out
