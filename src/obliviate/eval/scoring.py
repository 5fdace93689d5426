"""One batched teacher-forced pass per eval set → per-item token statistics.

Every probability-based metric (probability, truth ratio, token accuracy, MIA LOSS/Min-K,
memorisation) reads these statistics; none re-runs the model.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..distributed import sharded
from ..formatting import IGNORE_INDEX, Encoded, collate_right
from ..models.batches import batches, eval_mode


@dataclass
class ItemStats:
    """Statistics over one item's labelled (answer + EOS) positions, in order.

    ``logprobs``: log p(y_t); ``correct``: argmax == y_t; ``mu``/``sigma2``: mean and variance
    of log p under p at each position (for Min-K%++), present when requested.
    """

    logprobs: np.ndarray
    correct: np.ndarray
    mu: np.ndarray | None = None
    sigma2: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.logprobs.shape[0])

    @property
    def nll_mean(self) -> float:
        return float(-self.logprobs.mean()) if self.n else float("nan")


def _keeps_logits(model: torch.nn.Module) -> bool:
    """Whether ``model.forward`` takes ``logits_to_keep`` (transformers causal LMs; wrappers such
    as peft pass ``**kwargs`` through)."""
    params = inspect.signature(model.forward).parameters.values()
    return any(p.name == "logits_to_keep" or p.kind is p.VAR_KEYWORD for p in params)


def labelled_logits(
    model: torch.nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token logits at the labelled positions of a right-padded batch: ([N, V], [N]).

    Only the positions from the earliest label on reach the LM head (``logits_to_keep``), so the
    prompt's positions cost no vocabulary projection and no [B, T, V] tensor is built for them;
    rows are then flattened to their labelled positions, in order.
    """
    labels = batch["labels"]
    labelled = (labels != IGNORE_INDEX).any(0).nonzero()
    first = int(labelled[0]) if len(labelled) else labels.shape[1] - 1
    keep = labels.shape[1] - max(first - 1, 0)  # logits at t predict the token at t + 1
    kwargs = {"logits_to_keep": keep} if _keeps_logits(model) else {}
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **kwargs)
    logits = out.logits[:, -keep:]  # a model that ignores logits_to_keep returns every position
    targets = labels[:, labels.shape[1] - keep + 1 :]
    mask = targets != IGNORE_INDEX
    return logits[:, :-1][mask].float(), targets[mask]


def score(
    model: torch.nn.Module,
    encoded: Sequence[Encoded],
    pad_id: int,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    dist_stats: bool = False,
) -> list[ItemStats]:
    """Teacher-forced scoring of ``encoded`` in length-sorted batches (right padding).

    Returns stats in the input order. ``dist_stats`` adds per-position μ and σ² of log p
    (computed from the same logits: no second pass; vocabulary-sized tensors exist only for
    the labelled positions of one batch). Under several processes each rank scores every
    W-th item and the stats are gathered back in order on every rank
    (:func:`obliviate.distributed.sharded`); every rank must call it.
    """

    def collate(b: list[Encoded]) -> dict[str, torch.Tensor]:
        return collate_right(b, pad_id)

    def local(items: list[Encoded]) -> list[ItemStats]:
        out: list[ItemStats | None] = [None] * len(items)
        with eval_mode(model):
            for idx, batch in batches(items, batch_size, collate, device):
                _score_batch(model, batch, idx, dist_stats, out)
        return out  # type: ignore[return-value]

    return sharded(encoded, local, "score")


def _score_batch(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    idx: list[int],
    dist_stats: bool,
    out: list[ItemStats | None],
) -> None:
    """Statistics of one collated batch into ``out`` at the items' indices ``idx``."""
    logits, targets = labelled_logits(model, batch)
    logp = F.log_softmax(logits, dim=-1)
    columns = [logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1), logits.argmax(-1) == targets]
    if dist_stats:
        p = logp.exp()
        mu = (p * logp).sum(-1)
        columns += [mu, (p * logp.square()).sum(-1) - mu.square()]
    counts = (batch["labels"][:, 1:] != IGNORE_INDEX).sum(1).tolist()
    per_row = [torch.split(c.cpu(), counts) for c in columns]
    for row, i in enumerate(idx):
        lp, correct, *dist = (c[row].numpy() for c in per_row)
        out[i] = ItemStats(
            logprobs=lp.astype(np.float64),
            correct=correct,
            mu=dist[0].astype(np.float64) if dist else None,
            sigma2=dist[1].astype(np.float64) if dist else None,
        )
