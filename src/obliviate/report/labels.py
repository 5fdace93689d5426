"""Readable column names with the direction of improvement (↑ higher is better, ↓ lower).

A suite's own labels (the paper's names, :attr:`obliviate.eval.suites.base.Suite.labels`) come
first; any other key ``<set>/<metric>`` reads as ``<set> <metric name>``. The direction is the
unlearning objective's: on a forget set (name starting ``forget``) a knowledge score (ROUGE,
probability, accuracy, extraction strength...) should fall (↓); on every other set it should
stay high (↑); ``empty_rate`` / ``degenerate_rate`` should stay low (↓). Metrics whose good
direction depends on the reference model (truth ratio, perplexity, MIA AUC) carry no arrow.
"""

from __future__ import annotations

import fnmatch
from typing import Any

UP, DOWN = "↑", "↓"
TOP_LEVEL = {"forget_quality": UP, "model_utility": UP}
LOW_IS_GOOD = ("empty_rate", "degenerate_rate")
# metric names (after the set) that measure retained knowledge: ↓ on forget sets, ↑ elsewhere
KNOWLEDGE = ("rouge", "prob", "acc", "exact_match", "extraction_strength", "es", "f1",
             "normalised_prob", "kfr", "krr", "success")  # fmt: skip
NAMES = {
    "rouge_l_recall": "ROUGE-L recall",
    "rouge1_recall": "ROUGE-1 recall",
    "prob": "prob.",
    "normalised_prob": "normalised prob.",
    "truth_ratio": "truth ratio",
    "extraction_strength": "extraction strength",
    "empty_rate": "empty rate",
    "degenerate_rate": "degenerate rate",
    "forget_quality": "forget quality",
    "model_utility": "model utility",
    "ppl": "perplexity",
}


def direction(key: str) -> str:
    """``↑``, ``↓`` or ``""`` for a metric key (see the module docstring)."""
    if key in TOP_LEVEL:
        return TOP_LEVEL[key]
    name, _, metric = key.rpartition("/")
    if metric in LOW_IS_GOOD:
        return DOWN
    if not name or not metric.startswith(KNOWLEDGE):
        return ""
    return DOWN if name.startswith("forget") else UP


def readable(key: str) -> str:
    """``forget/rouge_l_recall`` -> ``forget ROUGE-L recall``; unknown parts: ``_`` as spaces."""
    name, _, metric = key.rpartition("/")
    text = NAMES.get(metric, metric.replace("_", " "))
    return f"{name.replace('_', ' ')} {text}".strip() if name else text


def label(key: str, suite_labels: dict[str, str] | None = None) -> str:
    """The column header of ``key``: the suite's label, else :func:`readable`, with the arrow of
    :func:`direction` unless the label already carries one."""
    text = (suite_labels or {}).get(key) or readable(key)
    arrow = direction(key)
    if arrow and UP not in text and DOWN not in text:
        text = f"{text} {arrow}"
    return text


def select(keys: list[str], spec: str) -> list[str]:
    """The keys ``--metrics`` names: ``all`` (every numeric key), or comma-separated globs
    (``forget/*``, ``*rouge*``), in first-seen order."""
    if spec in ("", "all"):
        return list(keys)
    pats = [p.strip() for p in spec.split(",") if p.strip()]
    return [k for k in keys if any(fnmatch.fnmatchcase(k, p) for p in pats)]


def numeric_keys(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Every key with a number in any row (``<key>/invalid`` flags left out), first-seen order."""
    keys: dict[str, None] = {}
    for _, m in rows:
        for k, v in m.items():
            number = isinstance(v, int | float) and not isinstance(v, bool) or v is None
            if number and not k.endswith("/invalid"):
                keys.setdefault(k)
    return list(keys)
