"""TOFU family metrics: probability, truth ratio, forget quality, model utility (SPEC 6.1).

Inputs are per-token log-probs of the labelled answer positions (EOS included) or per-item
``NLL_mean`` values; outputs are plain floats. Definitions follow open-unlearning (OU).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from obliviate.errors import ObliviateError


def _vec(values: ArrayLike, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ObliviateError(f"{what} is empty; it needs at least one value")
    return arr


def nll_mean(logprobs: ArrayLike) -> float:
    """NLL_mean = −(1/n) Σ_t log p(y_t | x, y_<t) over the n labelled positions (EOS included).

    Source: OU ``evaluate_probability`` (``avg_loss``); SPEC 0.
    """
    return float(-_vec(logprobs, "logprobs").mean())


def length_normalised_prob(logprobs: ArrayLike) -> float:
    """P̃(y|x) = exp(−NLL_mean) = exp((1/n) Σ_t log p_t), the geometric mean token probability.

    Source: TOFU "Probability", OU ``probability`` metric; SPEC 0, 6.1.
    """
    return float(np.exp(-nll_mean(logprobs)))


def normalised_prob(p_correct: float, p_perturbed: ArrayLike) -> float:
    """Per-item normalised probability P̃(a) / (P̃(a) + Σ_j P̃(a_j^pert) + 1e-10).

    Used for Real Authors / World Facts. Source: OU ``probability_w_options``; SPEC 6.1.
    """
    wrong = _vec(p_perturbed, "p_perturbed").sum()
    return float(p_correct / (p_correct + wrong + 1e-10))


def truth_ratio(
    nll_mean_correct: float,
    nll_mean_perturbed: ArrayLike,
    mean: Literal["geometric", "arithmetic"] = "geometric",
    eps: float = 1e-10,
) -> float:
    """Per-item truth ratio tr = P̃_wrong / (P̃_correct + eps), P̃_correct = exp(−NLL_mean_correct).

    ``geometric`` (default, OU): P̃_wrong = exp(−mean_j NLL_mean_j);
    ``arithmetic`` (legacy TOFU in-training variant): P̃_wrong = mean_j exp(−NLL_mean_j).
    ``eps`` = 1e-10 is OU's guard (``wrong_prob / (correct_prob + 1e-10)``); it changes tr only
    when P̃_correct is tiny (collapsed models); pass 0 for the exact ratio.
    q/p, not the paper's p/(p+q) (that is :func:`truth_ratio_prob_mean`; SPEC 8 #14).
    Source: TOFU (Maini et al. 2024), OU ``truth_ratio``; SPEC 6.1.
    """
    nll_wrong = _vec(nll_mean_perturbed, "nll_mean_perturbed")
    if mean == "geometric":
        p_wrong = float(np.exp(-nll_wrong.mean()))
    elif mean == "arithmetic":
        p_wrong = float(np.exp(-nll_wrong).mean())
    else:
        raise ObliviateError(f"truth_ratio mean {mean!r} unknown; accepted: arithmetic, geometric")
    return p_wrong / (float(np.exp(-nll_mean_correct)) + eps)


def truth_ratio_closer_to_1(trs: ArrayLike) -> float:
    """Forget-set aggregator ``closer_to_1_better`` = mean_i min(tr_i, 1/tr_i) (tr = 0 gives 0).

    Source: OU ``truth_ratio`` (OU writes 1/(tr + 1e-10)); SPEC 6.1.
    """
    tr = _vec(trs, "truth ratios")
    with np.errstate(divide="ignore"):
        return float(np.minimum(tr, 1.0 / tr).mean())


def truth_ratio_true_better(trs: ArrayLike) -> float:
    """Retain / RA / WF aggregator ``true_better`` = mean_i max(0, 1 − tr_i).

    Source: OU ``truth_ratio``; SPEC 6.1.
    """
    return float(np.maximum(0.0, 1.0 - _vec(trs, "truth ratios")).mean())


def truth_ratio_prob_mean(p_correct: ArrayLike, p_wrong: ArrayLike) -> float:
    """Paper form of the truth ratio = mean_i P̃_c,i / (P̃_c,i + P̃_w,i).

    Source: TOFU paper (Maini et al. 2024), ``prob_mean`` aggregator; SPEC 6.1.
    """
    pc, pw = _vec(p_correct, "p_correct"), _vec(p_wrong, "p_wrong")
    if pc.shape != pw.shape:
        raise ObliviateError(
            f"truth_ratio_prob_mean: {pc.size} correct vs {pw.size} wrong probabilities"
        )
    return float((pc / (pc + pw)).mean())


def forget_quality(tr_unlearned: ArrayLike, tr_retain: ArrayLike) -> float:
    """Forget quality = p-value of ``scipy.stats.ks_2samp(tr_unlearned_forget, tr_retain_forget)``.

    Both inputs are raw per-item forget-set truth ratios (legacy TOFU uses 1/tr: same p-value);
    ``tr_retain`` comes from the retain model. A missing side raises instead of OU's silent
    ``None`` (SPEC 8 #13). Source: TOFU, OU ``ks_test``; SPEC 6.1.
    """
    unlearned = np.asarray(tr_unlearned, dtype=np.float64).reshape(-1)
    retain = np.asarray(tr_retain, dtype=np.float64).reshape(-1)
    if unlearned.size == 0 or retain.size == 0:
        missing = "unlearned model's" if unlearned.size == 0 else "retain model's"
        raise ObliviateError(
            f"forget_quality needs the {missing} per-item forget truth ratios; that list is empty "
            "(evaluate the retain model on the forget split or load its logs)"
        )
    from scipy import stats  # scipy.stats: ~1 s to import, only where used

    return float(stats.ks_2samp(unlearned, retain).pvalue)


def model_utility(components: Mapping[str, float]) -> float:
    """Model utility = harmonic mean (``scipy.stats.hmean``) of the components; 0 if any is ≤ 0.

    TOFU uses 9: retain Prob / ROUGE / TR, Real Authors and World Facts normalised Prob / ROUGE /
    TR. Source: TOFU, OU ``hm_aggregate``; SPEC 6.1.
    """
    if not components:
        raise ObliviateError("model_utility needs at least one component; got none")
    values = np.asarray([float(v) for v in components.values()], dtype=np.float64)
    if np.any(values <= 0):
        return 0.0
    from scipy import stats

    return float(stats.hmean(values))
