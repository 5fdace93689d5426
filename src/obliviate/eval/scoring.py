"""One batched teacher-forced pass per eval set → per-item token statistics.

Every probability-based metric (probability, truth ratio, token accuracy, MIA LOSS/Min-K,
memorisation) reads these statistics; none re-runs the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..formatting import IGNORE_INDEX, Encoded, collate_right


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


@torch.no_grad()
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
    (computed from the same logits: no second pass, no [B, T, V] tensor kept past a batch).
    """
    was_training = model.training
    model.eval()
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
    out: list[ItemStats | None] = [None] * len(encoded)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = collate_right([encoded[i] for i in idx], pad_id)
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        logits, labels = logits[:, :-1].float(), batch["labels"][:, 1:]
        mask = labels != IGNORE_INDEX
        logp = F.log_softmax(logits, dim=-1)
        safe = labels.masked_fill(~mask, 0)
        lp = logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
        correct = logits.argmax(-1) == labels
        if dist_stats:
            p = logp.exp()
            mu = (p * logp).sum(-1)
            sigma2 = (p * logp.square()).sum(-1) - mu.square()
        for row, i in enumerate(idx):
            m = mask[row]
            out[i] = ItemStats(
                logprobs=lp[row][m].cpu().numpy().astype(np.float64),
                correct=correct[row][m].cpu().numpy(),
                mu=mu[row][m].cpu().numpy().astype(np.float64) if dist_stats else None,
                sigma2=sigma2[row][m].cpu().numpy().astype(np.float64) if dist_stats else None,
            )
        del logits, logp
    if was_training:
        model.train()
    return out  # type: ignore[return-value]
