"""Which metrics an evaluation computes: ``eval.metrics`` parsed into a per-set plan.

``eval.metrics`` is a list of metric names (``obliviate list metrics``), the groups ``default``
(the foundation's TOFU-style metrics, used when the list is empty) and ``all`` (every metric
computed from the shared passes: one teacher-forced scoring pass and one generation pass per set,
plus the linguistic score's short scorer pass over the generations), or ``<set>/<name>`` to ask
for a metric on one set only. Metrics that cost passes of their own are never in a group and are
asked for by name: ``mia_gradnorm`` (one backward pass per item), ``extraction_likelihood``
(one generation per answer prefix), ``memo`` (one generation per 5-character stride), ``kfr`` /
``krr`` (NLI and embedding models, an entity extractor).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ...errors import ObliviateError, did_you_mean

DEFAULT = frozenset(
    {"prob", "token_accuracy", "normalised_prob", "truth_ratio", "rouge_l_recall"}
    | {"forget_quality", "model_utility"}
)
# from the teacher-forced scoring pass (per item)
SCORING = frozenset(
    {"prob", "token_accuracy", "normalised_prob", "truth_ratio", "exact_memorisation"}
    | {"extraction_strength", "memorisation_accuracy", "rwku_fm_rm"}
    | {"mia_loss", "mia_zlib", "mia_min_k", "mia_min_k_plus_plus"}
)
# from the generation pass (per item, or per set for the linguistic score)
GENERATION = frozenset(
    {"rouge_l_recall", "rouge1_recall", "rouge_l_f1", "rwku_rouge_l_recall", "brunet_index"}
    | {"honore_statistic", "rttr", "fluency_entropy", "linguistic_score", "kfr", "krr"}
)
# across sets or against the retain model's values
CROSS = frozenset(
    {"forget_quality", "model_utility", "auc", "privleak", "rel_diff", "mia_reference"}
)
EXTRA_PASS = frozenset({"mia_gradnorm", "extraction_likelihood", "memo", "kfr", "krr"})
ALL = (SCORING | GENERATION | CROSS) - EXTRA_PASS
SELECTABLE = ALL | EXTRA_PASS
GROUPS = {"default": DEFAULT, "all": ALL}
MIA_ATTACKS = (
    "mia_loss", "mia_zlib", "mia_min_k", "mia_min_k_plus_plus", "mia_reference", "mia_gradnorm",
)  # fmt: skip
IMPLIES: dict[str, frozenset[str]] = {
    "forget_quality": frozenset({"truth_ratio"}),
    "model_utility": frozenset({"prob", "rouge_l_recall", "truth_ratio", "normalised_prob"}),
    "auc": frozenset({"mia_loss", "mia_zlib", "mia_min_k", "mia_min_k_plus_plus"}),
    "privleak": frozenset({"mia_min_k"}),
    "rel_diff": frozenset({"mia_min_k"}),
    "linguistic_score": frozenset({"brunet_index", "honore_statistic", "rttr"}),
    "kfr": frozenset({"rouge_l_recall"}),
    "krr": frozenset({"rouge_l_recall"}),
}


def _expand(names: Iterable[str]) -> frozenset[str]:
    out = set(names)
    for name in list(out):
        out |= IMPLIES.get(name, frozenset())
    return frozenset(out)


@dataclass(frozen=True)
class MetricPlan:
    """Metrics wanted everywhere plus metrics wanted on single sets."""

    everywhere: frozenset[str] = DEFAULT
    per_set: dict[str, frozenset[str]] = field(default_factory=dict)

    def on(self, set_name: str) -> frozenset[str]:
        """Every metric wanted on ``set_name``."""
        return self.everywhere | self.per_set.get(set_name, frozenset())

    def anywhere(self, name: str) -> bool:
        return name in self.everywhere or any(name in s for s in self.per_set.values())

    def mia_attacks(self, set_name: str) -> list[str]:
        wanted = self.on(set_name)
        return [a for a in MIA_ATTACKS if a in wanted]


def check_metric_names(entries: Sequence[str]) -> None:
    """Reject unknown names in ``eval.metrics`` (set names are checked by the suite)."""
    for entry in entries:
        name = entry.rpartition("/")[2]
        if name not in SELECTABLE and name not in GROUPS:
            raise ObliviateError(
                f"eval.metrics: {entry!r} is unknown; "
                f"{did_you_mean(name, sorted([*SELECTABLE, *GROUPS]))}"
            )


def parse_plan(
    entries: Sequence[str], sets: Sequence[str], default: frozenset[str] = DEFAULT
) -> MetricPlan:
    """The plan for ``eval.metrics`` over a suite whose sets are ``sets``; ``default`` is what
    the group ``default`` (and an empty list) means in that suite: the TOFU-style metrics, or
    nothing beyond the suite's own protocol (KnowUnDo, RWKU)."""
    check_metric_names(entries)
    everywhere: set[str] = set()
    per_set: dict[str, set[str]] = {}
    groups = {**GROUPS, "default": default}
    for entry in entries or ["default"]:
        set_name, _, name = entry.rpartition("/")
        names = groups.get(name, frozenset({name}))
        if not set_name:
            everywhere |= names
            continue
        if set_name not in sets:
            raise ObliviateError(
                f"eval.metrics: {entry!r} names set {set_name!r}; accepted sets: {', '.join(sets)}"
            )
        if names & CROSS:
            raise ObliviateError(
                f"eval.metrics: {entry!r}: {', '.join(sorted(names & CROSS))} compare sets or "
                "models and are asked for without a set prefix"
            )
        per_set.setdefault(set_name, set()).update(names)
    return MetricPlan(_expand(everywhere), {k: _expand(v) for k, v in per_set.items()})


def restrict(
    plan: MetricPlan,
    entries: Sequence[str],
    allowed: Mapping[str, frozenset[str]],
    suite: str,
    cross: frozenset[str] = frozenset(),
) -> dict[str, frozenset[str]]:
    """Per set, the planned metrics that set can compute (``allowed``; ``cross``: computed
    across sets by the suite). A metric *named* in ``eval.metrics`` (not through a group such as
    ``all``) that cannot be computed where it was asked for is an error, never a silent omission."""
    everywhere = frozenset().union(*allowed.values()) | cross
    for entry in entries:
        set_name, _, name = entry.rpartition("/")
        if name in GROUPS:
            continue
        ok = allowed.get(set_name, frozenset()) if set_name else everywhere
        if name not in ok:
            where = f"set {set_name!r} of the {suite} suite" if set_name else f"the {suite} suite"
            raise ObliviateError(
                f"eval.metrics: {entry!r} cannot be computed on {where}; accepted there: "
                f"{', '.join(sorted(ok)) or 'none'}"
            )
    return {name: plan.on(name) & ok for name, ok in allowed.items()}
