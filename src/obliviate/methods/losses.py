"""Loss primitives shared by every method (SPEC sections 0 and 3.0).

Shapes: ``logits`` [B, T, V] (or [B, K, V]: the last K positions, those from the batch's
earliest label on), ``labels`` [B, T] with -100 on unlabelled positions. Every
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
    """Align predictions with targets: logits[:, :-1] vs labels[:, 1:]. Logits of the last K < T
    positions only (``methods.base.forward_logits``) align with labels[:, T − K + 1:]."""
    return logits[:, :-1, :], labels[:, labels.shape[1] - logits.shape[1] + 1 :]


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


# ---- losses added for the methods of SPEC 3.2 (one pure function per formula) --------------
def dpo_loss(
    nll_chosen: torch.Tensor,
    nll_rejected: torch.Tensor,
    ref_nll_chosen: torch.Tensor,
    ref_nll_rejected: torch.Tensor,
    beta: float,
    two_over_beta: bool = True,
) -> torch.Tensor:
    """DPO (Rafailov et al. 2023) on sequence-sum NLLs, SPEC 3.2.

    With log π(y|x) = −NLL_sum: Δ = (logπ_θ − logπ_ref)(y_w) − (logπ_θ − logπ_ref)(y_l);
    L = −c·mean logσ(β·Δ), c = 2/β (OU ``IdkDPO``/AltPO) or 1 (standard TRL sigmoid, RWKU).
    """
    delta = (ref_nll_chosen - nll_chosen) - (ref_nll_rejected - nll_rejected)
    scale = 2.0 / beta if two_over_beta else 1.0
    return -scale * F.logsigmoid(beta * delta).mean()


def undial_loss(
    logits: torch.Tensor, ref_logits: torch.Tensor, labels: torch.Tensor, beta: float
) -> torch.Tensor:
    """UNDIAL (Dong et al. 2024, arXiv:2402.10052), SPEC 3.2.

    q_t = softmax(z_ref,t − β·onehot(y_t)); L = mean over labelled positions of CE(q_t, p_θ,t).
    OU averages over every position and indexes the vocabulary with −100 (SPEC 8 item 8); here
    only labelled, shifted positions count.
    """
    logits, labels = shift(logits, labels)
    mask = labels != IGNORE_INDEX
    z, y = logits[mask].float(), labels[mask]
    z_ref = ref_logits[:, :-1, :][mask].float()
    target = F.softmax(z_ref.scatter_add(-1, y[:, None], torch.full_like(z_ref[:, :1], -beta)), -1)
    return -(target * F.log_softmax(z, dim=-1)).sum(-1).sum() / mask.sum().clamp(min=1)


def weighted_ascent_loss(
    logits: torch.Tensor, labels: torch.Tensor, beta1: float, beta2: float = 0.0
) -> torch.Tensor:
    """WGA / SatImp forget loss, SPEC 3.2: −mean_{t∈M} sg(p_t^β1 · (1−p_t)^β2)·ℓ_t.

    WGA (Wang et al. 2025, "Rethinking LLM Unlearning Objectives", OU ``WGA``): β2 = 0.
    SatImp (Yang et al. 2025, OU ``SatImp``): β1, β2 > 0. p_t = exp(−ℓ_t); the weight carries
    no gradient; the mean runs over every labelled position of the batch.
    """
    nll, mask = token_nll(logits, labels)
    p = torch.exp(-nll.detach())
    weight = p.pow(beta1) * (1.0 - p).pow(beta2)
    return -(weight * nll)[mask].sum() / mask.sum().clamp(min=1)


def ce_u_loss(logits: torch.Tensor, labels: torch.Tensor, skip_first: int = 1) -> torch.Tensor:
    """CE-U (Yang et al. 2025, arXiv:2503.01224; OU ``CEU``), SPEC 3.2.

    Target distribution at each labelled position = softmax of the model's own detached logits
    with the gold logit set to −∞; L = token mean of CE(target, p_θ). The first ``skip_first``
    labelled tokens of each sequence are left out (the paper's footnote; OU default 1).
    """
    labelled = labels != IGNORE_INDEX
    early = labelled & (labelled.cumsum(dim=-1) <= skip_first)
    logits, labels = shift(logits, labels.masked_fill(early, IGNORE_INDEX))
    mask = labels != IGNORE_INDEX
    z, y = logits[mask].float(), labels[mask]
    target = F.softmax(z.detach().scatter(-1, y[:, None], float("-inf")), dim=-1)
    return -(target * F.log_softmax(z, dim=-1)).sum(-1).sum() / mask.sum().clamp(min=1)


def logit_spread_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """PDU forget loss (Entesari et al. 2025, OU ``PDU``), SPEC 3.2.

    L_f = Σ_t m_t (max_v z_t,v − mean_v z_t,v)² / Σ_t m_t with m the shifted answer mask (OU
    uses every unshifted position, SPEC 8 item 8). Minimising it flattens the next-token logits.
    """
    logits, labels = shift(logits, labels)
    mask = labels != IGNORE_INDEX
    z = logits[mask].float()
    spread = z.max(dim=-1).values - z.mean(dim=-1)
    return spread.square().sum() / mask.sum().clamp(min=1)


ACTIVATION_REDUCTIONS = ("per_item", "ou")


def activation_mse(
    h: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, reduction: str = "per_item"
) -> torch.Tensor:
    """RMU activation loss (Li et al. 2024, "The WMDP Benchmark"), SPEC 3.2.

    With S_b = Σ_{t∈M_b} (1/d)‖h_b,t − target_b,t‖² and N_b = |M_b|:

    - ``per_item``: mean_b S_b / N_b (the formula);
    - ``ou``: mean_b(S_b) · mean_b(1/N_b), what open-unlearning's ``RMU.compute_activation_loss``
      (``src/trainer/unlearn/rmu.py``) computes: its ``S [B] / N [B, 1]`` broadcasts to a
      B×B matrix before the mean. Equal to ``per_item`` when every N_b is the same.

    ``target`` broadcasts against ``h`` ([B, T, d] or [d]); ``mask`` [B, T] selects the labelled
    positions.
    """
    sq = (h.float() - target.float()).square().mean(dim=-1)
    sums, counts = (sq * mask).sum(dim=1), mask.sum(dim=1).clamp(min=1)
    if reduction == "ou":
        return sums.mean() * (1.0 / counts).mean()
    return (sums / counts).mean()
