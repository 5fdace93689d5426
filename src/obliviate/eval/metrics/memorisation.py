"""Teacher-forced memorisation metrics: exact memorisation and extraction strength (SPEC 6.5).

``correct[t]`` = 1[argmax p(·|x, y_<t) = y_t] over the labelled answer positions, EOS last.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from obliviate.errors import ObliviateError


def _answer_positions(correct: ArrayLike, exclude_last: bool, what: str) -> np.ndarray:
    arr = np.asarray(correct, dtype=bool).reshape(-1)
    kept = arr[:-1] if exclude_last else arr
    if kept.size == 0:
        raise ObliviateError(
            f"{what}: no answer positions left ({arr.size} labelled, exclude_last={exclude_last})"
        )
    return kept


def exact_memorisation(correct: ArrayLike, exclude_last: bool = True) -> float:
    """EM = (1/n) Σ_t 1[argmax p(·|x, y_<t) = y_t], teacher-forced, EOS excluded by default.

    Source: Tirumala et al. 2022; OU ``exact_memorization``; SPEC 6.5.
    """
    return float(_answer_positions(correct, exclude_last, "exact_memorisation").mean())


def extraction_strength(correct: ArrayLike, exclude_last: bool = True, ou: bool = False) -> float:
    """ES = 1 − k*/n, k* = min{k : ŷ[k:] = y[k:]} (the longest all-correct suffix has n − k*).

    ES = 0 when no suffix matches (the last prediction is wrong; ``eval.protocol=fixed``).
    ``ou=True`` (``paper`` / ``ou``) is OU's loop: ``for k in range(n): if equal: break`` leaves
    k = n − 1 when nothing matches and returns 1/n (1 for n = 1; SPEC 8 #6). Source: Wang et al.
    2025 (ICLR); OU ``src/evals/metrics/memorization.py`` ``_extraction_strength`` (locuslab/
    open-unlearning @ d3d7cf9e6b3c125d16687d4232680d8d83548f1a); SPEC 6.5.
    """
    kept = _answer_positions(correct, exclude_last, "extraction_strength")
    wrong = np.flatnonzero(~kept)
    k_star = int(wrong[-1]) + 1 if wrong.size else 0
    if ou and k_star == kept.size:  # no suffix matches: OU's loop ends at k = n - 1
        k_star = kept.size - 1
    return 1.0 - k_star / kept.size
