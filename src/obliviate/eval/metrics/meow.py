"""MEOW's memorisation accuracy (MA) and extraction likelihood (EL), suffix mode (SPEC 6.5).

With a = (a_0..a_{n−1}) the answer's token ids (no EOS):

- MA = (1/(n−1)) Σ_{i=1}^{n−1} 1[greedy next token after (q, a_<i) = a_i];
- EL (N = 1) = (1/(n−2)) Σ_{i=1}^{n−2} |set(words(gen_i)) ∩ set(words(a))| / |set(words(gen_i))|,
  gen_i = the greedy continuation of (q, a_<i), words = ``str.split()``; an empty generation
  scores 0 (MEOW divides by zero there).

Source: MEOW (Gu et al. 2024) ``memo/ma.py`` ``ma_prefix`` and ``memo/el.py`` ``el_prefix``.
The model-side passes are in :mod:`obliviate.eval.memorisation_gen`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from obliviate.errors import ObliviateError


def memorisation_accuracy(correct: ArrayLike) -> float:
    """MA = mean of ``correct[1:]``: the first answer token has no answer prefix and is skipped.

    ``correct[t]`` = 1[argmax p(·|q, a_<t) = a_t] over the n answer tokens (EOS excluded).
    """
    arr = np.asarray(correct, dtype=bool).reshape(-1)
    if arr.size < 2:
        raise ObliviateError(
            f"memorisation_accuracy needs at least 2 answer tokens; got {arr.size}"
        )
    return float(arr[1:].mean())


def el_overlap(generation: str, answer: str) -> float:
    """|set(words(generation)) ∩ set(words(answer))| / |set(words(generation))|; 0 if empty."""
    gen = set(generation.split())
    return len(gen & set(answer.split())) / len(gen) if gen else 0.0


def extraction_likelihood(generations: Sequence[str], answer: str) -> float:
    """EL = mean over the n − 2 prefix continuations of :func:`el_overlap`; NaN when there are
    none (answers shorter than 3 tokens), so a set mean can skip the item."""
    if not generations:
        return math.nan
    return float(np.mean([el_overlap(g, answer) for g in generations]))
