"""Loss primitives shared by every method (SPEC sections 0 and 3.0).

Shapes: ``logits`` [B, T, V], ``labels`` [B, T] with -100 on unlabelled positions. Every
function shifts once (logits[:, :-1] predict labels[:, 1:]) and names its reduction:
``batch_token_mean`` (HF ``outputs.loss``: Σ_b Σ_t ℓ / Σ_b n_b), ``seq_mean`` (per sequence
NLL_sum / n) or ``seq_sum`` (per sequence NLL_sum).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100
Reduction = Literal["batch_token_mean", "seq_mean", "seq_sum"]


def shift(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Align predictions with targets: logits[:, :-1] vs labels[:, 1:]."""
    return logits[:, :-1, :], labels[:, 1:]


def token_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position NLL ℓ_t = −log p(y_t | ·) [B, T-1] (0 where unlabelled) and the label mask."""
    logits, labels = shift(logits, labels)
    mask = labels != IGNORE_INDEX
    safe = labels.masked_fill(~mask, 0)
    nll = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(), safe.reshape(-1), reduction="none"
    ).view_as(safe)
    return nll * mask, mask


def reduce_nll(nll: torch.Tensor, mask: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    """Reduce per-position NLL with an explicit reduction (SPEC 0)."""
    if reduction == "batch_token_mean":
        return nll.sum() / mask.sum().clamp(min=1)
    seq = nll.sum(dim=1)
    if reduction == "seq_sum":
        return seq
    if reduction == "seq_mean":
        return seq / mask.sum(dim=1).clamp(min=1)
    raise ValueError(f"unknown reduction {reduction!r}")


def sequence_nll(
    logits: torch.Tensor, labels: torch.Tensor, reduction: Reduction = "batch_token_mean"
) -> torch.Tensor:
    """NLL of the labelled tokens with the given reduction."""
    nll, mask = token_nll(logits, labels)
    return reduce_nll(nll, mask, reduction)


def npo_loss(nll_sum: torch.Tensor, ref_nll_sum: torch.Tensor, beta: float) -> torch.Tensor:
    """NPO (Zhang et al. 2024, "Negative Preference Optimization"), SPEC 3.2.

    r_i = log π_θ(y_i|x_i) − log π_ref(y_i|x_i) with sequence sums;
    L = −(2/β)·mean_i logσ(−β·r_i) = −(2/β)·mean_i logσ(β·(NLL_θ − NLL_ref)).
    """
    return -(2.0 / beta) * F.logsigmoid(beta * (nll_sum - ref_nll_sum)).mean()


def simnpo_loss(nll_sum: torch.Tensor, n: torch.Tensor, beta: float, delta: float) -> torch.Tensor:
    """SimNPO (Fan et al. 2024), SPEC 3.2: −(2/β)·mean_i logσ(β·(NLL_sum,i / n_i − δ))."""
    return -(2.0 / beta) * F.logsigmoid(beta * (nll_sum / n.clamp(min=1) - delta)).mean()


def kl_on_labels(
    logits: torch.Tensor, ref_logits: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Fixed KL_R (SPEC 3.0): mean over labelled positions of KL_t(p_ref ‖ p_θ).

    The peers' ``kl_div(batchmean)`` over every position (prompt and pad included) is
    SPEC section 8 item 7; here only labelled (shifted) positions count.
    """
    logits, labels = shift(logits, labels)
    ref_logits = ref_logits[:, :-1, :]
    mask = labels != IGNORE_INDEX
    logp = F.log_softmax(logits[mask].float(), dim=-1)
    ref_logp = F.log_softmax(ref_logits[mask].float(), dim=-1)
    kl = (ref_logp.exp() * (ref_logp - logp)).sum(-1)
    return kl.sum() / mask.sum().clamp(min=1)
