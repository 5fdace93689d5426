"""The eval-mode batch loop of every model pass that is not training (scoring, generation,
localisation gradients, MIA gradients, reference forwards).

``with eval_mode(model): for idx, batch in batches(items, bs, collate, device): ...``:
dropout off and no autograd graph (``grad=True`` keeps gradients, for GradNorm and MemFlex) for
the duration, the model's train/eval mode restored afterwards even on error; items in
length-sorted batches (stable sort, so equal lengths keep their order; ``sort=False`` keeps the
input order), collated (e.g. ``formatting.collate_left``/``collate_right``) and moved to the
device, each with the indices of its items so results go back in input order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch

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
    """``(indices, collated batch on device)`` over ``items``, shortest first when ``sort``."""
    order = list(range(len(items)))
    if sort:
        order.sort(key=lambda i: length(items[i]))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = collate([items[i] for i in idx])
        yield idx, {k: v.to(device) for k, v in batch.items()}
