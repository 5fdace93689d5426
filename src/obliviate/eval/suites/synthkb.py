"""The synthkb suite: TOFU-style metrics on forget, forget-val, retain, neighbour and world sets,
plus (on request) held-out people, RWKU-style probes, biographies and every metric of
:mod:`.plan`.

Model utility is the harmonic mean of nine values, mirroring TOFU's nine (SPEC 6.1) with the
neighbour set in the place of TOFU's real authors: retain prob / ROUGE-L recall / truth ratio,
neighbour normalised prob / ROUGE-L recall / truth ratio, world normalised prob / ROUGE-L
recall / truth ratio. Forget quality is the KS-test p-value between the model's and the retain
model's per-item forget truth ratios.

Membership inference (SPEC 6.4): ``forget_mia`` compares the forget answers (members: trained
on) with the ``holdout`` answers (QA about held-out people, same templates, never trained on);
``bio_mia`` compares the forget people's biographies with the held-out people's (the facts were
trained on as QA, the biography wording never). Asking for an MIA metric on ``forget`` adds the
``holdout`` set (scored only, for the same attacks).

Sets: the five defaults; ``holdout``; ``forget_fb`` / ``forget_qa`` / ``forget_aa`` (the forget
people's fill-in-the-blank, question and adversarial probes, answered with the bare value);
``mia_member`` / ``mia_nonmember`` (biographies); ``eval.sets=[all]`` takes every one.
"""

from __future__ import annotations

from typing import Any

from ...records import BenchmarkData
from .base import (
    EvalContext,
    SetResult,
    Suite,
    aggregate_tofu_style,
    evaluate_passage_set,
    evaluate_qa_set,
    register_suite,
)
from .plan import MIA_ATTACKS

# set name -> truth-ratio aggregator (TOFU: forget closer-to-1, others true-better)
QA_SETS: dict[str, str] = {
    "forget": "closer_to_1",
    "forget_val": "closer_to_1",
    "retain": "true_better",
    "neighbor": "true_better",
    "world": "true_better",
}
EXTRA_QA_SETS: dict[str, str] = {
    "holdout": "closer_to_1",
    "forget_fb": "closer_to_1",
    "forget_qa": "closer_to_1",
    "forget_aa": "closer_to_1",
}
PASSAGE_SETS = ("mia_member", "mia_nonmember")
ALL_SETS = [*QA_SETS, *EXTRA_QA_SETS, *PASSAGE_SETS]
MIA_PAIRS: dict[str, tuple[str, str]] = {
    "forget_mia": ("forget", "holdout"),
    "bio_mia": ("mia_member", "mia_nonmember"),
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


@register_suite
class SynthKBSuite(Suite):
    name = "synthkb"
    sets = tuple(ALL_SETS)
    headline = HEADLINE
    default_sets = list(QA_SETS)
    mia_pairs = MIA_PAIRS

    def evaluate(
        self, data: BenchmarkData, ctx: EvalContext, sets: list[str] | None = None
    ) -> dict[str, SetResult]:
        """Evaluate each requested set with the metrics of ``eval.metrics``; per-set results."""
        names = self.set_names(sets)
        planned = self.wanted(ctx)
        wanted = {name: planned[name] for name in names}
        for members, others in MIA_PAIRS.values():  # the non-member side runs the same attacks
            attacks = [a for a in MIA_ATTACKS if a in planned[members]] if members in names else []
            if attacks:
                wanted[others] = wanted.get(others, frozenset()) | frozenset(attacks)
        results: dict[str, SetResult] = {}
        for name, want in wanted.items():
            records = data.eval_sets[name].records
            if name in PASSAGE_SETS:
                results[name] = evaluate_passage_set(records, ctx, want)  # type: ignore[arg-type]
            else:
                aggregator = {**QA_SETS, **EXTRA_QA_SETS}[name]
                results[name] = evaluate_qa_set(records, ctx, aggregator, metrics=want)  # type: ignore[arg-type]
        return results

    def aggregate(
        self, results: dict[str, SetResult], retain_values: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Flatten to ``<set>/<metric>`` keys; add forget quality (against the retain model's
        forget truth ratios), MIA AUCs / privleak and model utility."""
        return aggregate_tofu_style(results, retain_values, MIA_PAIRS, UTILITY_COMPONENTS)
