"""The synthkb suite: TOFU-style metrics on forget, forget-val, retain, neighbour and world sets.

Model utility is the harmonic mean of nine values, mirroring TOFU's nine (SPEC 6.1) with the
neighbour set in the place of TOFU's real authors: retain prob / ROUGE-L recall / truth ratio,
neighbour normalised prob / ROUGE-L recall / truth ratio, world normalised prob / ROUGE-L
recall / truth ratio. Forget quality is the KS-test p-value between the model's and the retain
model's per-item forget truth ratios.
"""

from __future__ import annotations

from typing import Any

from ...errors import ObliviateError
from ...records import BenchmarkData
from ..metrics import tofu
from .base import EvalContext, SetResult, evaluate_qa_set

# set name -> truth-ratio aggregator (TOFU: forget closer-to-1, others true-better)
QA_SETS: dict[str, str] = {
    "forget": "closer_to_1",
    "forget_val": "closer_to_1",
    "retain": "true_better",
    "neighbor": "true_better",
    "world": "true_better",
}
UTILITY_COMPONENTS = [
    "retain/prob",
    "retain/rouge_l_recall",
    "retain/truth_ratio",
    "neighbor/normalised_prob",
    "neighbor/rouge_l_recall",
    "neighbor/truth_ratio",
    "world/normalised_prob",
    "world/rouge_l_recall",
    "world/truth_ratio",
]
HEADLINE = [
    "forget/rouge_l_recall",
    "forget_val/rouge_l_recall",
    "retain/rouge_l_recall",
    "neighbor/rouge_l_recall",
    "world/rouge_l_recall",
    "forget/prob",
    "forget/truth_ratio",
    "forget_quality",
    "model_utility",
]


class SynthKBSuite:
    name = "synthkb"
    headline = HEADLINE
    default_sets = list(QA_SETS)

    def evaluate(
        self, data: BenchmarkData, ctx: EvalContext, sets: list[str] | None = None
    ) -> dict[str, SetResult]:
        """Evaluate each requested set; returns per-set results keyed by set name."""
        names = sets or self.default_sets
        unknown = [s for s in names if s not in QA_SETS]
        if unknown:
            raise ObliviateError(
                f"eval.sets: {unknown} not in the synthkb suite; accepted: {', '.join(QA_SETS)}"
            )
        return {
            name: evaluate_qa_set(data.eval_sets[name].records, ctx, QA_SETS[name])  # type: ignore[arg-type]
            for name in names
        }

    def aggregate(
        self, results: dict[str, SetResult], retain_forget_tr: list[float] | None
    ) -> dict[str, Any]:
        """Flatten to ``<set>/<metric>`` keys and add forget quality and model utility."""
        flat: dict[str, Any] = {
            f"{name}/{k}": v for name, res in results.items() for k, v in res.metrics.items()
        }
        if "forget" in results and retain_forget_tr:
            trs = [row["truth_ratio"] for row in results["forget"].items]
            flat["forget_quality"] = tofu.forget_quality(trs, retain_forget_tr)
        if all(k in flat for k in UTILITY_COMPONENTS):
            flat["model_utility"] = tofu.model_utility({k: flat[k] for k in UTILITY_COMPONENTS})
        return flat
