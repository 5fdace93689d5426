"""Membership-inference scores, AUC and privleak (SPEC 6.4) and RWKU's MIA variants (SPEC 6.3).

OU scores (``mia_*``) are loss-like: higher = less likely a member. RWKU scores (``rwku_*``)
keep RWKU's log-likelihood sign: higher = more likely a member.
"""

from __future__ import annotations

import zlib

import numpy as np
from numpy.typing import ArrayLike

from obliviate.errors import ObliviateError
from obliviate.eval.metrics.tofu import nll_mean


def _vec(values: ArrayLike) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _min_k_count(n: int, k: float) -> int:
    """max(1, ⌊k·n⌋) with the peers' float product ``int(n * k)``."""
    if not 0.0 < k <= 1.0:
        raise ObliviateError(f"Min-K% ratio k must lie in (0, 1]; got {k}")
    return max(1, int(n * k))


def _answer_tokens(arrays: list[np.ndarray], exclude_last: bool, what: str) -> list[np.ndarray]:
    """Check equal lengths, drop the final (EOS) label when asked, require one token left."""
    n = arrays[0].size
    if any(a.size != n for a in arrays):
        raise ObliviateError(f"{what}: logprobs, mu and sigma2 differ in length")
    kept = [a[:-1] for a in arrays] if exclude_last else arrays
    if kept[0].size == 0:
        raise ObliviateError(
            f"{what}: no scored tokens left ({n} labelled positions, exclude_last={exclude_last})"
        )
    return kept


def _z_scores(
    lp: np.ndarray, mu: np.ndarray, sigma2: np.ndarray, sigma2_min: float | None
) -> np.ndarray:
    """Min-K%++ z_t = (lp_t − μ_t) / sqrt(max(σ²_t, sigma2_min)); ``sigma2_min=None``: the raw
    sqrt(σ²_t) (RWKU: ±inf at σ² = 0, NaN at σ² < 0 or 0/0)."""
    if sigma2_min is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (lp - mu) / np.sqrt(sigma2)
    return (lp - mu) / np.sqrt(np.maximum(sigma2, sigma2_min))


def mia_loss(logprobs: ArrayLike) -> float:
    """LOSS attack score = NLL_mean over the answer tokens (EOS included).

    Source: Yeom et al. 2018; OU ``LOSSAttack``; SPEC 6.4.
    """
    return nll_mean(logprobs)


def mia_zlib(logprobs: ArrayLike, text: str) -> float:
    """ZLib attack score = NLL_mean / len(zlib.compress(text.encode("utf-8"))).

    ``text`` is the decoded answer. Source: Carlini et al. 2021; OU ``ZLIBAttack``; SPEC 6.4.
    """
    return nll_mean(logprobs) / len(zlib.compress(text.encode("utf-8")))


def mia_min_k(logprobs: ArrayLike, k: float = 0.4, exclude_last: bool = True) -> float:
    """Min-K% score = −mean of the max(1, ⌊k·n⌋) smallest lp_t.

    Over the answer tokens, excluding the final (EOS) label when ``exclude_last`` (as OU's
    ``tokenwise_logprobs``). Source: Shi et al. 2024; OU ``MinKProbAttack``; SPEC 6.4.
    """
    (lp,) = _answer_tokens([_vec(logprobs)], exclude_last, "mia_min_k")
    return float(-np.sort(lp)[: _min_k_count(lp.size, k)].mean())


def mia_max_k(logprobs: ArrayLike, k: float = 0.4, exclude_last: bool = True) -> float:
    """Max-K% score = −mean of the max(1, ⌊k·n⌋) largest lp_t (loss-like: higher = less likely
    a member).

    Min-K%'s mirror: the k% most confidently predicted tokens instead of the least; same token
    selection as :func:`mia_min_k` (EOS excluded when ``exclude_last``; k = ``eval.min_k``).
    Source: Maini, Jia, Papernot, Dziedzic 2024, "LLM Dataset Inference: Did you train on my
    dataset?" (NeurIPS 2024, arXiv:2406.06443), the Max-K% Prob membership feature.
    """
    (lp,) = _answer_tokens([_vec(logprobs)], exclude_last, "mia_max_k")
    return float(-np.sort(lp)[::-1][: _min_k_count(lp.size, k)].mean())


def mia_min_k_plus_plus(
    logprobs: ArrayLike,
    mu: ArrayLike,
    sigma2: ArrayLike,
    k: float = 0.4,
    exclude_last: bool = True,
    sigma2_min: float = 1e-6,
) -> float:
    """Min-K%++ score = −mean of the max(1, ⌊k·n⌋) smallest z_t.

    z_t = (lp_t − μ_t) / sqrt(max(σ²_t, 1e-6)), μ_t = Σ_v p log p, σ²_t = Σ_v p (log p)² − μ_t²;
    same token selection as :func:`mia_min_k`. Source: Zhang et al. 2024; OU
    ``MinKPlusPlusAttack``; SPEC 6.4.
    """
    lp, m, s2 = _answer_tokens(
        [_vec(logprobs), _vec(mu), _vec(sigma2)],
        exclude_last,
        "mia_min_k_plus_plus",
    )
    z = _z_scores(lp, m, s2, sigma2_min)
    return float(-np.sort(z)[: _min_k_count(z.size, k)].mean())


def mia_reference(nll_mean_target: float, nll_mean_reference: float) -> float:
    """Reference attack score = NLL_mean(target model) − NLL_mean(reference model, e.g. retain).

    Source: Carlini et al. 2021; OU ``ReferenceAttack``; SPEC 6.4.
    """
    return float(nll_mean_target) - float(nll_mean_reference)


def auc(forget_scores: ArrayLike, holdout_scores: ArrayLike) -> float:
    """AUC = P(s_holdout > s_forget) + ½·P(s_holdout = s_forget).

    Equals ``roc_auc_score([0]*|forget| + [1]*|holdout|, scores)`` (Mann–Whitney U from average
    ranks). ≈1 memorised, 0.5 indistinguishable. Source: OU ``mia_auc``; SPEC 6.4.
    """
    forget, holdout = _vec(forget_scores), _vec(holdout_scores)
    if forget.size == 0 or holdout.size == 0:
        raise ObliviateError(
            f"auc needs forget and holdout scores; got {forget.size} forget and "
            f"{holdout.size} holdout"
        )
    from scipy.stats import rankdata  # scipy.stats: ~1 s to import, only where used

    ranks = rankdata(np.concatenate([forget, holdout]))
    u = ranks[forget.size :].sum() - holdout.size * (holdout.size + 1) / 2
    return float(u / (forget.size * holdout.size))


def privleak(auc_value: float, auc_retain: float = 0.5) -> float:
    """privleak = ((1 − AUC) − (1 − AUC_ret)) / ((1 − AUC_ret) + 1e-10) × 100.

    AUC from Min-K% (k 0.4) forget vs holdout; AUC_ret from the retain model (default 0.5).
    Fine-tuned ≈ −100, retain = 0. Source: MUSE (Shi et al. 2024), OU ``privleak``; SPEC 6.4.
    """
    score, ref = 1.0 - auc_value, 1.0 - auc_retain
    return (score - ref) / (ref + 1e-10) * 100.0


def rel_diff(auc_value: float, auc_retain: float = 0.5) -> float:
    """rel_diff = (AUC − AUC_ret) / (AUC_ret + 1e-10) × 100 (privleak without the 1 − x flips).

    Source: OU ``rel_diff``; SPEC 6.4.
    """
    return (auc_value - auc_retain) / (auc_retain + 1e-10) * 100.0


def rwku_min_k(logprobs: ArrayLike, k: float = 0.2) -> float:
    """RWKU Min-K% s_k = mean of the max(1, ⌊k·N⌋) smallest lp_t over all N = T−1 predicted tokens.

    Log-likelihood sign (no negation; higher = member). RWKU takes ⌊kN⌋ tokens and returns
    NaN when ⌊kN⌋ = 0; here at least one token (SPEC 8 #34). Source: RWKU ``eval_mia.py``
    (``mink_{ratio}``); SPEC 6.3.
    """
    (lp,) = _answer_tokens([_vec(logprobs)], False, "rwku_min_k")
    return float(np.sort(lp)[: _min_k_count(lp.size, k)].mean())


def rwku_min_k_plus_plus(
    logprobs: ArrayLike,
    mu: ArrayLike,
    sigma2: ArrayLike,
    k: float = 0.2,
    sigma2_min: float | None = 1e-6,
) -> float:
    """RWKU Min-K%++ s_k = mean of the max(1, ⌊k·N⌋) smallest z_t over all T−1 predicted tokens.

    z_t = (lp_t − μ_t)/sqrt(max(σ²_t, sigma2_min)); log-likelihood sign. RWKU's stored ``mink20``
    is this at k = 0.2. RWKU divides by sqrt(σ²) unclamped (``mink_plus = (token_log_probs - mu)
    / sigma.sqrt()``: inf/NaN at σ² ≤ 0): ``sigma2_min=None`` reproduces it (``eval.protocol=
    paper``); the default clamp 1e-6 matches OU (``fixed``). ``np.sort`` puts NaN last, as RWKU's
    ``np.sort`` does. ⌊kN⌋ guarded to ≥ 1 (SPEC 8 #34). Source: RWKU ``eval_mia.py``
    (``mink++_{ratio}``); SPEC 6.3.
    """
    lp, m, s2 = _answer_tokens(
        [_vec(logprobs), _vec(mu), _vec(sigma2)],
        False,
        "rwku_min_k_plus_plus",
    )
    z = _z_scores(lp, m, s2, sigma2_min)
    return float(np.sort(z)[: _min_k_count(z.size, k)].mean())


def rwku_fm_rm(nll_means: ArrayLike) -> float:
    """RWKU FM / RM = −100 · mean_i ll_i = 100 · mean_i NLL_mean_i (per text, T−1 tokens).

    FM on ``mia_forget`` (higher = more forgotten), RM on ``mia_retain`` (lower is better).
    Source: RWKU paper Table 1, ``eval_mia.py`` ``loss``; SPEC 6.3.
    """
    values = _vec(nll_means)
    if values.size == 0:
        raise ObliviateError("rwku_fm_rm: no texts scored")
    return float(100.0 * values.mean())
