"""What an attack is scored on, and the one robustness number.

Forget side of each suite (``attack.sets`` / ``attack.metric`` override it):

=========  ===================================  ==========================
suite      forget-side eval sets                forget metric (higher = knows)
=========  ===================================  ==========================
synthkb    forget, forget_val                   forget/rouge_l_recall
tofu       forget                               forget/rouge_l_recall
knowundo   unlearn_val                          unlearn_val/acc
rwku       forget_fb, forget_qa, forget_aa      forget_all
other      every set named ``forget*``          the first ``forget*`` headline column
=========  ===================================  ==========================

Recovery of an attack (Hu et al. 2024; Zhang et al. 2024 report the same ratio as "knowledge
retained"):

    recovery = (m_attacked − m_unlearned) / (m_target − m_unlearned)

on the forget metric m over the same items: 0 = the attack recovers nothing, 1 = the target's
level; the retain ("gold") model under the same attack is put on the same scale,
``gold = (m_retain,attacked − m_unlearned) / (m_target − m_unlearned)``, the part any model that
never knew the facts reaches. None when target and unlearned do not differ.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ObliviateError

FORGET_SIDE: dict[str, tuple[list[str], str]] = {
    "synthkb": (["forget", "forget_val"], "forget/rouge_l_recall"),
    "tofu": (["forget"], "forget/rouge_l_recall"),
    "knowundo": (["unlearn_val"], "unlearn_val/acc"),
    "rwku": (["forget_fb", "forget_qa", "forget_aa"], "forget_all"),
}


def forget_side(suite: Any, sets: list[str], metric: str) -> tuple[list[str], str]:
    """The forget-side sets and the forget metric of ``suite`` (``sets`` / ``metric``: the
    ``attack.sets`` / ``attack.metric`` overrides; empty: the table above)."""
    default_sets, default_metric = FORGET_SIDE.get(suite.name, ([], ""))
    if not default_sets:
        default_sets = [s for s in suite.sets if s.startswith("forget")]
        default_metric = next((h for h in suite.headline if h.startswith("forget")), "")
    chosen = list(sets) or default_sets
    unknown = [s for s in chosen if s not in suite.sets]
    if unknown or not chosen:
        raise ObliviateError(
            f"attack.sets: {unknown or 'none'} not in the {suite.name} suite; accepted: "
            f"{', '.join(suite.sets)}"
        )
    chosen_metric = metric or default_metric or f"{chosen[0]}/rouge_l_recall"
    return chosen, chosen_metric


def _num(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def recovery(attacked: Any, unlearned: Any, target: Any) -> float | None:
    """(attacked − unlearned) / (target − unlearned); None when a value is missing or the
    target and the unlearned model score the same (nothing was forgotten to recover)."""
    a, u, t = _num(attacked), _num(unlearned), _num(target)
    if a is None or u is None or t is None or abs(t - u) < 1e-12:
        return None
    return (a - u) / (t - u)


def score_variant(
    metric: str, clean: dict[str, dict[str, Any]], attacked: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """One attack variant's row: the clean target / unlearned / retain values, the attacked
    unlearned and retain values, their changes, the recovery and the gold model's recovery."""
    get = lambda d, role: _num((d.get(role) or {}).get(metric))  # noqa: E731
    t, u, r = get(clean, "target"), get(clean, "unlearned"), get(clean, "retain")
    au, ar = get(attacked, "unlearned"), get(attacked, "retain")
    return {
        "metric": metric,
        "target": t,
        "unlearned": u,
        "retain": r,
        "attacked_unlearned": au,
        "attacked_retain": ar,
        "attacked_target": get(attacked, "target"),
        "delta_unlearned": None if au is None or u is None else au - u,
        "delta_retain": None if ar is None or r is None else ar - r,
        "recovery": recovery(au, u, t),
        "gold_recovery": recovery(ar, u, t),
    }


def worst(rows: dict[str, dict[str, Any]]) -> tuple[str | None, float | None]:
    """The variant with the largest recovery (the attacker's best) and that recovery."""
    scored = [(k, v["recovery"]) for k, v in rows.items() if v.get("recovery") is not None]
    if not scored:
        return None, None
    return max(scored, key=lambda kv: kv[1])
