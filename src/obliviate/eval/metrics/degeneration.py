"""Empty and degenerate generations: outputs that score low ROUGE without being evidence of
forgetting (a model that says nothing, or repeats one token, has not shown it forgot anything).

- empty: the stripped output is "";
- degenerate (non-empty): *non-text*, fewer than half of its non-space characters letters or
  digits (``"!!!!"``, ``"<|x|><|x|>"``; a bare ``"1961"`` is text); or *repeated-token*, over its
  whitespace tokens w_1..w_N: one token 4 or more times in a row, or N >= 8 and
  |{w_i}| / N <= 0.25 (``"the the the the"``, ``"a b a b a b a b"``).

Set values are rates (mean of the per-item 0/1), reported as ``<set>/empty_rate`` and
``<set>/degenerate_rate`` beside the forget scores (obliviate's own check; issue 13).
"""

from __future__ import annotations

from itertools import groupby

MIN_ALNUM_SHARE = 0.5
MAX_RUN = 4
MIN_TOKENS_FOR_VARIETY, MAX_DISTINCT_SHARE = 8, 0.25


def is_empty(text: str) -> bool:
    return not text.strip()


def is_non_text(text: str) -> bool:
    chars = [c for c in text if not c.isspace()]
    return bool(chars) and sum(c.isalnum() for c in chars) / len(chars) < MIN_ALNUM_SHARE


def is_repetitive(text: str) -> bool:
    words = text.lower().split()
    if any(len(list(run)) >= MAX_RUN for _, run in groupby(words)):
        return True
    return (
        len(words) >= MIN_TOKENS_FOR_VARIETY and len(set(words)) / len(words) <= MAX_DISTINCT_SHARE
    )


def is_degenerate(text: str) -> bool:
    """Non-empty and non-text or repeated-token (see the module docstring)."""
    return not is_empty(text) and (is_non_text(text) or is_repetitive(text))


def empty_flag(text: str) -> float:
    return float(is_empty(text))


def degenerate_flag(text: str) -> float:
    return float(is_degenerate(text))
