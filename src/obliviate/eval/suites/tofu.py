"""The TOFU suite (Maini et al. 2024; open-unlearning definitions, SPEC 6.1, 6.4, 7).

Sets ``forget`` (forgetXX_perturbed), ``retain`` (retain_perturbed), ``real_authors``,
``world_facts``: probability P̃(a|q) = exp(−NLL_mean), ROUGE-L recall of the greedy answer
(``rouge_score``, stemmed; ``eval.max_new_tokens`` = 200 as OU), truth ratio
tr = P̃_wrong / P̃_correct (geometric mean over the perturbed answers; correct = paraphrased
answer on forget/retain, the answer on real authors / world facts), aggregated
``closer_to_1`` on forget (mean min(tr, 1/tr)) and ``true_better`` elsewhere (mean max(0, 1 − tr));
real authors / world facts report the normalised probability P̃(a)/(P̃(a) + Σ_j P̃(a_j)).

- Forget quality = KS two-sample p-value between the model's per-item forget tr and the retain
  model's (from our retain run, or ``eval.retain_tr_file``: :func:`read_retain_truth_ratios`).
- Model utility = harmonic mean of retain Prob / ROUGE / TR, real-authors normalised Prob /
  ROUGE / TR, world-facts normalised Prob / ROUGE / TR (0 if any is 0).
- ``mia`` (SPEC 6.4): LOSS, ZLib, Min-K% and Min-K%++ (``eval.min_k``, 0.4) scores of the
  forget answers (members) and the ``holdout`` answers (non-members, never trained on), from the
  same scoring pass as the probabilities; ``mia/auc_<attack>`` = P(s_holdout > s_forget) (≈1
  memorised, 0.5 indistinguishable) and ``mia/privleak`` against the retain model's Min-K% AUC
  (0.5 without one). Extraction strength on forget (SPEC 7's optional columns).

``eval.metrics`` adds any metric of ``suites.plan`` to these defaults.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import ObliviateError
from ...records import BenchmarkData
from ..metrics import METRICS
from .base import (
    EvalContext,
    SetResult,
    Suite,
    aggregate_tofu_style,
    evaluate_qa_set,
    register_suite,
)

QA_SETS: dict[str, str] = {
    "forget": "closer_to_1",
    "retain": "true_better",
    "real_authors": "true_better",
    "world_facts": "true_better",
    "holdout": "closer_to_1",
}
MIA_PAIRS = {"mia": ("forget", "holdout")}
MIA = frozenset(METRICS["auc"].implies)  # OU's score attacks
# TOFU's metrics beyond the plan's defaults, per set; holdout is scored for the MIA only
EXTRA = {"forget": MIA | {"privleak", "extraction_strength"}, "holdout": MIA | {"prob"}}
UTILITY_COMPONENTS = [
    "retain/prob",
    "retain/rouge_l_recall",
    "retain/truth_ratio",
    "real_authors/normalised_prob",
    "real_authors/rouge_l_recall",
    "real_authors/truth_ratio",
    "world_facts/normalised_prob",
    "world_facts/rouge_l_recall",
    "world_facts/truth_ratio",
]
# SPEC 7: forget_quality | model_utility | forget_truth_ratio, then the extended columns
HEADLINE = [
    "forget_quality",
    "model_utility",
    "forget/truth_ratio",
    "forget/rouge_l_recall",
    "forget/prob",
    "retain/rouge_l_recall",
    "retain/prob",
    "retain/truth_ratio",
    "real_authors/rouge_l_recall",
    "real_authors/normalised_prob",
    "real_authors/truth_ratio",
    "world_facts/rouge_l_recall",
    "world_facts/normalised_prob",
    "world_facts/truth_ratio",
    "mia/privleak",
    "forget/extraction_strength",
]
LABELS = {
    "forget_quality": "Forget Quality",
    "model_utility": "Model Utility",
    "forget/truth_ratio": "Forget TR",
    "forget/rouge_l_recall": "Forget ROUGE",
    "forget/prob": "Forget Prob.",
    "retain/rouge_l_recall": "Retain ROUGE",
    "retain/prob": "Retain Prob.",
    "retain/truth_ratio": "Retain TR",
    "real_authors/rouge_l_recall": "Real Authors ROUGE",
    "real_authors/normalised_prob": "Real Authors Prob.",
    "real_authors/truth_ratio": "Real Authors TR",
    "world_facts/rouge_l_recall": "Real World ROUGE",
    "world_facts/normalised_prob": "Real World Prob.",
    "world_facts/truth_ratio": "Real World TR",
    "mia/privleak": "privleak",
    "forget/extraction_strength": "Forget ES",
}


def read_retain_values(spec: str) -> dict[str, Any]:
    """What other models compare against, from ``eval.retain_tr_file``: the retain model's
    forget truth ratios (:func:`read_retain_truth_ratios`) and, where the file holds it, its
    Min-K% AUC for privleak (``<pair>/auc_min_k``): a run's ``retain_values.json`` stores it
    under that key, an open-unlearning eval log as ``mia_min_k.agg_value`` (what OU's ``privleak``
    reads from its ``retain_model_logs``). Without it privleak falls back to AUC_ret = 0.5."""
    values: dict[str, Any] = {"forget/truth_ratio": read_retain_truth_ratios(spec)}
    path = Path(spec).expanduser()
    if path.is_dir():
        path = path / "eval" / "retain" / "retain_values.json"
    data = json.loads(path.read_text())  # valid: read_retain_truth_ratios parsed it
    aucs: dict[str, Any] = {}
    if isinstance(data, dict) and isinstance(data.get("mia_min_k"), dict):  # an OU eval log
        aucs = {"mia/auc_min_k": data["mia_min_k"].get("agg_value")}
    elif isinstance(data, dict):  # retain_values.json: one AUC per member / non-member pair
        aucs = {k: v for k, v in data.items() if k.endswith("/auc_min_k")}
    for key, auc in aucs.items():
        if isinstance(auc, bool) or not isinstance(auc, int | float):
            raise ObliviateError(f"{path}: the retain Min-K% AUC {key} is {auc!r}, not a number")
        values[key] = float(auc)
    return values


def read_retain_truth_ratios(spec: str) -> list[float]:
    """The retain model's per-item forget truth ratios for forget quality.

    ``spec`` is a run directory (its ``eval/retain/retain_values.json``), a JSON list of numbers,
    a ``retain_values.json`` (``{"forget/truth_ratio": [...]}``) or an open-unlearning eval log
    holding ``forget_truth_ratio.value_by_index`` (values ordered by index, ``score`` of each).
    """
    path = Path(spec).expanduser()
    if path.is_dir():
        path = path / "eval" / "retain" / "retain_values.json"
    if not path.is_file():
        raise ObliviateError(f"eval.retain_tr_file={spec!r}: {path} does not exist")
    try:
        data: Any = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ObliviateError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if isinstance(data, dict) and "forget/truth_ratio" in data:
        data = data["forget/truth_ratio"]
    elif isinstance(data, dict):
        log = data.get("forget_truth_ratio")
        by_index = log.get("value_by_index") if isinstance(log, dict) else None
        if not isinstance(by_index, dict):
            raise ObliviateError(
                f"{path}: expected a list of truth ratios, a retain_values.json or an "
                "open-unlearning log with 'forget_truth_ratio' -> 'value_by_index'"
            )
        data = [by_index[k]["score"] for k in sorted(by_index, key=int)]
    if not isinstance(data, list) or not data:
        raise ObliviateError(f"{path}: expected a non-empty list of per-item truth ratios")
    values = []
    for i, v in enumerate(data):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ObliviateError(f"{path}: item {i} is {v!r}, not a number")
        values.append(float(v))
    return values


@register_suite
class TOFUSuite(Suite):
    name = "tofu"
    sets = tuple(QA_SETS)
    headline = HEADLINE
    labels = LABELS
    default_sets = list(QA_SETS)
    mia_pairs = MIA_PAIRS

    def evaluate(
        self, data: BenchmarkData, ctx: EvalContext, sets: list[str] | None = None
    ) -> dict[str, SetResult]:
        names = self.set_names(sets)
        planned = self.wanted(ctx)
        out: dict[str, SetResult] = {}
        for name in names:
            want = EXTRA["holdout"] if name == "holdout" else planned[name] | EXTRA.get(name, set())
            records = data.eval_sets[name].records
            out[name] = evaluate_qa_set(records, ctx, QA_SETS[name], metrics=want)  # type: ignore[arg-type]
        return out

    def aggregate(
        self, results: dict[str, SetResult], retain_values: dict[str, Any] | None
    ) -> dict[str, Any]:
        """``<set>/<metric>`` plus forget quality (against the retain model's forget truth
        ratios), the MIA AUCs / privleak (forget vs holdout) and model utility."""
        return aggregate_tofu_style(results, retain_values, MIA_PAIRS, UTILITY_COMPONENTS)
