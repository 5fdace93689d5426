"""Across sets and models: the retain model's values, each member / non-member pair's MIA AUCs
(SPEC 6.4) and TOFU's aggregation (forget quality, model utility, SPEC 6.1).

Cross-set metrics (:func:`mia_pair_metrics`) compare a member set with a non-member set (MIA
AUC) and use the retain model's values (:func:`retain_values`): per-item forget truth ratios
(forget quality), per-item NLL (Reference attack), the Min-K% AUC (privleak).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...errors import ObliviateError
from ..metrics import METRICS, mia, tofu
from .context import SetResult
from .plan import MIA_ATTACKS

RETAIN_ITEM_FIELDS = ("truth_ratio", "nll_mean")
# attacks whose per-item scores are in the rows; the Reference attack's need the retain model
_ROW_ATTACKS = tuple(a for a in MIA_ATTACKS if METRICS[a].kind != "cross")


def retain_values(
    results: Mapping[str, SetResult], pairs: Mapping[str, tuple[str, str]]
) -> dict[str, Any]:
    """The retain model's values other models compare against: ``<set>/truth_ratio`` and
    ``<set>/nll_mean`` per item, and ``<pair>/auc_min_k`` of each member / non-member pair."""
    values: dict[str, Any] = {}
    for name, res in results.items():
        for f in RETAIN_ITEM_FIELDS:
            if res.items and all(f in row for row in res.items):
                values[f"{name}/{f}"] = [row[f] for row in res.items]
    for pair, (members, others) in pairs.items():
        if members in results and others in results:
            scores = _attack_scores(results[members], results[others], "mia_min_k")
            if scores is not None:
                values[f"{pair}/auc_min_k"] = mia.auc(*scores)
    return values


def _attack_scores(
    members: SetResult, others: SetResult, attack: str
) -> tuple[list[float], list[float]] | None:
    """Member and non-member scores of ``attack`` (NaN items dropped), or None if absent."""
    if not all(attack in row for row in [*members.items, *others.items]):
        return None
    a = [row[attack] for row in members.items if not np.isnan(row[attack])]
    b = [row[attack] for row in others.items if not np.isnan(row[attack])]
    return (a, b) if a and b else None


def _add_reference_scores(res: SetResult, name: str, retain: Mapping[str, Any] | None) -> bool:
    """Reference attack per item: NLL_mean(model) − NLL_mean(reference model) (SPEC 6.4); the
    reference is ``eval.mia_reference_model`` (rows' ``reference_nll``) or the retain model."""
    if res.items and all("reference_nll" in row for row in res.items):
        ref = [row["reference_nll"] for row in res.items]
    else:
        ref = (retain or {}).get(f"{name}/nll_mean")
    if ref is None:
        return False
    if len(ref) != len(res.items):
        raise ObliviateError(
            f"mia_reference: set {name!r} has {len(res.items)} items but the retain model's "
            f"retain_values.json has {len(ref)}; evaluate both on the same data"
        )
    for row, r in zip(res.items, ref):
        row["mia_reference"] = mia.mia_reference(row["nll_mean"], r)
    return True


def mia_pair_metrics(
    pair: str,
    members_name: str,
    others_name: str,
    results: Mapping[str, SetResult],
    retain: Mapping[str, Any] | None,
) -> dict[str, float]:
    """``<pair>/auc_<attack>`` (members vs non-members, SPEC 6.4) for each attack asked for on
    the member set, plus ``privleak`` / ``rel_diff`` against the retain model's Min-K% AUC
    (0.5 without a retain model)."""
    members, others = results[members_name], results[others_name]
    out: dict[str, float] = {}
    want = members.wanted
    for attack in _ROW_ATTACKS:
        if attack in want and (scores := _attack_scores(members, others, attack)):
            out[f"{pair}/auc_{attack[4:]}"] = mia.auc(*scores)
    if (
        "mia_reference" in want
        and _add_reference_scores(members, members_name, retain)
        and _add_reference_scores(others, others_name, retain)
        and (scores := _attack_scores(members, others, "mia_reference"))
    ):
        out[f"{pair}/auc_reference"] = mia.auc(*scores)
    if f"{pair}/auc_min_k" in out:
        auc_ret = (retain or {}).get(f"{pair}/auc_min_k", 0.5)
        if "privleak" in want:
            out[f"{pair}/privleak"] = mia.privleak(out[f"{pair}/auc_min_k"], auc_ret)
        if "rel_diff" in want:
            out[f"{pair}/rel_diff"] = mia.rel_diff(out[f"{pair}/auc_min_k"], auc_ret)
    return out


def flatten(results: Mapping[str, SetResult]) -> dict[str, Any]:
    """Per-set metrics as ``<set>/<metric>`` keys."""
    return {f"{name}/{k}": v for name, res in results.items() for k, v in res.metrics.items()}


def aggregate_tofu_style(
    results: Mapping[str, SetResult],
    retain: Mapping[str, Any] | None,
    pairs: Mapping[str, tuple[str, str]],
    utility_components: Sequence[str],
) -> dict[str, Any]:
    """TOFU's aggregation (SPEC 6.1, 6.4): ``<set>/<metric>``, forget quality (KS test against
    the retain model's per-item forget truth ratios), each MIA pair's AUCs / privleak, and
    model utility (harmonic mean of ``utility_components``, when all are present)."""
    flat = flatten(results)
    forget = results.get("forget")
    retain_tr = (retain or {}).get("forget/truth_ratio")
    has_tr = forget is not None and all("truth_ratio" in row for row in forget.items)
    if forget is not None and retain_tr and has_tr:
        trs = [row["truth_ratio"] for row in forget.items]
        if len(trs) != len(retain_tr):
            raise ObliviateError(
                f"forget quality: {len(trs)} forget items but {len(retain_tr)} retain "
                "truth ratios; the retain values must come from the same forget split"
            )
        flat["forget_quality"] = tofu.forget_quality(trs, retain_tr)
    for pair, (members, others) in pairs.items():
        if members in results and others in results:
            flat |= mia_pair_metrics(pair, members, others, results, retain)
    if all(k in flat for k in utility_components):
        flat["model_utility"] = tofu.model_utility({k: flat[k] for k in utility_components})
    return flat
