"""KnowUnDo teacher-forced metrics: token accuracy, perplexity, success rates (SPEC 6.2).

Each item's arrays cover every labelled position T_i: under ``eval.protocol=paper`` KnowUnDo's
``"\n\n" + answer`` without EOS, under ``fixed`` the answer + EOS
(:mod:`obliviate.eval.suites.knowundo`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from obliviate.errors import ObliviateError


def token_accuracy(correct: ArrayLike) -> float:
    """acc_i = (1/|T_i|) Σ_{t∈T_i} 1[argmax p_θ(·|y_<t) = y_t], a fraction in [0, 1].

    Token-by-token accuracy, not exact match (KUD issue #2). Source: KnowUnDo (Tian et al.
    2024) ``run_eval_lora.py`` ``compute_min_k_ppl_acc`` at ratio 1; SPEC 6.2.
    """
    arr = np.asarray(correct, dtype=bool).reshape(-1)
    if arr.size == 0:
        raise ObliviateError("token_accuracy: the item has no labelled answer positions")
    return float(arr.mean())


def knowundo_scores(
    correct_list: Sequence[ArrayLike], logprobs_list: Sequence[ArrayLike]
) -> dict[str, float]:
    """KnowUnDo split scores ``{"acc": 100·mean_i acc_i, "ppl": exp(−mean_i lp_i)}``.

    lp_i = (1/|T_i|) Σ_t log p_θ(y_t|y_<t); both means are over items (each item weighs the
    same, whatever its length). Source: KnowUnDo ``run_eval_lora.py``
    ``compute_min_k_ppl_acc`` (ratio 1, i.e. every labelled position); SPEC 6.2. KnowUnDo skips
    items without labelled positions; here they raise.
    """
    if len(correct_list) != len(logprobs_list):
        raise ObliviateError(
            f"knowundo_scores: {len(correct_list)} accuracy items vs "
            f"{len(logprobs_list)} log-prob items"
        )
    if not correct_list:
        raise ObliviateError("knowundo_scores needs at least one item; got none")
    accs, lps = [], []
    for index, (correct, logprobs) in enumerate(zip(correct_list, logprobs_list)):
        lp = np.asarray(logprobs, dtype=np.float64).reshape(-1)
        if lp.size != np.asarray(correct).size:
            raise ObliviateError(
                f"knowundo_scores: item {index} has {np.asarray(correct).size} accuracy "
                f"positions but {lp.size} log-probs"
            )
        accs.append(token_accuracy(correct))
        lps.append(lp.mean())
    return {"acc": 100.0 * float(np.mean(accs)), "ppl": float(np.exp(-np.mean(lps)))}


def unlearn_success(acc_forget_val: float) -> float:
    """Unlearn Success = 100 − acc(unlearn.val), acc in percent.

    Source: KnowUnDo / MemFlex paper tables [inferred]; SPEC 6.2.
    """
    return 100.0 - float(acc_forget_val)


def retention_success(acc_retain_val: float) -> float:
    """Retention Success = acc(retention.val), acc in percent.

    Source: KnowUnDo / MemFlex paper tables [inferred]; SPEC 6.2.
    """
    return float(acc_retain_val)
