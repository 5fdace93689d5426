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
from ..metrics import METRICS, select

# every set below is derived from the registry (``eval.metrics.METRICS``)
DEFAULT = frozenset(select(default=True))
SCORING = frozenset(select(kind="scoring"))  # from the teacher-forced scoring pass (per item)
# from the generation pass (per item, or per set for the linguistic score)
GENERATION = frozenset(select(kind="generation") + select(uses_generation=True))
CROSS = frozenset(select(kind="cross"))  # across sets or against the retain model's values
EXTRA_PASS = frozenset(select(kind="own"))  # passes of their own: asked for by name only
PROTOCOL = frozenset(select(kind="protocol"))  # always computed by the suites that name them
RUN_LEVEL = frozenset(select(per_set=False))  # reported once per model, never per set
ALL = (SCORING | GENERATION | CROSS) - EXTRA_PASS
GENERIC = ALL | EXTRA_PASS  # what the shared passes compute, on any suite that has the sets
SELECTABLE = frozenset(METRICS)
GROUPS = {"default": DEFAULT, "all": ALL}
MIA_ATTACKS = select(attack=True)
DIST = frozenset(select(dist=True))  # need μ_t / σ²_t from the scoring pass


def protocol(suite: str, per_set: bool) -> frozenset[str]:
    """The ``protocol`` metrics ``suite`` always computes, per set or once per model."""
    return frozenset(
        s.name for s in METRICS.values()
        if s.kind == "protocol" and suite in s.suites and s.per_set == per_set
    )  # fmt: skip


IMPLIES: dict[str, frozenset[str]] = {
    spec.name: frozenset(spec.implies) for spec in METRICS.values() if spec.implies
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
        if names & RUN_LEVEL:
            raise ObliviateError(
                f"eval.metrics: {entry!r}: {', '.join(sorted(names & RUN_LEVEL))} compare sets or "
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
