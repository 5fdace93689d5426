"""The :class:`Suite` base every benchmark's evaluation protocol derives from, the suite registry,
and (re-exported) what every suite shares: the context, the per-set passes, cross-set metrics.

A suite names its sets, its default sets, its headline columns and their labels, its member /
non-member pairs and the metrics each set can compute (derived from the registry
``eval.metrics.METRICS``); it evaluates sets (``evaluate``), hands the retain model's values to
other models (``retain_values``) and aggregates (``aggregate(results, retain_values)``). A module
defining a suite registers it with :func:`register_suite`; ``eval.suites`` imports every module
of the package, so a new benchmark's suite touches only its own module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from ...errors import ObliviateError
from ...records import BenchmarkData
from .context import EvalContext, SetResult
from .cross import (
    RETAIN_ITEM_FIELDS,
    aggregate_tofu_style,
    flatten,
    mia_pair_metrics,
    retain_values,
)
from .plan import DEFAULT, GENERIC, parse_plan, restrict
from .rows import (
    MEAN_FIELDS,
    add_passage_extras,
    finish_set,
    generation_metrics,
    reference_nlls,
    scorer_perplexities,
    set_means,
    stats_metrics,
)
from .sets import evaluate_passage_set, evaluate_qa_set

SUITES: dict[str, type[Suite]] = {}
S = TypeVar("S", bound="type[Suite]")


def register_suite(cls: S) -> S:
    """Class decorator: make ``cls`` the suite named ``cls.name``."""
    if cls.name in SUITES and SUITES[cls.name] is not cls:
        raise ObliviateError(f"suite {cls.name!r} is registered twice")
    SUITES[cls.name] = cls
    return cls


class Suite:
    """One benchmark's evaluation protocol.

    ``sets``: every set it can evaluate (``eval.sets``; ``all`` = every one); ``default_sets``:
    those evaluated when ``eval.sets`` is empty; ``headline`` / ``labels``: the report's columns
    and their paper names; ``mia_pairs``: ``<pair> -> (members, non-members)``;
    ``default_metrics``: what the group ``default`` (and an empty ``eval.metrics``) means;
    ``uses_retain_model``: whether other models compare against the retain model's values.
    """

    name: ClassVar[str] = ""
    sets: ClassVar[tuple[str, ...]] = ()
    default_sets: ClassVar[list[str]] = []
    headline: ClassVar[list[str]] = []
    labels: ClassVar[dict[str, str]] = {}
    mia_pairs: ClassVar[dict[str, tuple[str, str]]] = {}
    default_metrics: ClassVar[frozenset[str]] = DEFAULT
    uses_retain_model: ClassVar[bool] = True

    def set_names(self, sets: list[str] | None) -> list[str]:
        """``eval.sets`` checked against :attr:`sets` (empty: the default sets; ``all``: every
        set), in the order given."""
        names = list(sets or self.default_sets)
        if "all" in names:
            names = list(self.sets)
        unknown = [s for s in names if s not in self.sets]
        if unknown:
            raise ObliviateError(
                f"eval.sets: {unknown} not in the {self.name} suite; "
                f"accepted: {', '.join(self.sets)} (or all)"
            )
        return names

    def accepted(self) -> dict[str, frozenset[str]]:
        """Per set, the metrics ``eval.metrics`` may ask for there (default: every metric of the
        shared passes, cross-set ones included)."""
        return {name: GENERIC for name in self.sets}

    def accepted_across(self) -> frozenset[str]:
        """Metrics computed across sets that no single set's :meth:`accepted` lists."""
        return frozenset()

    def wanted(self, ctx: EvalContext) -> dict[str, frozenset[str]]:
        """Per set, the metrics ``eval.metrics`` asks for that it can compute; a metric named
        where it cannot be computed is an error."""
        entries = list(ctx.option("metrics", []))
        plan = parse_plan(entries, list(self.sets), self.default_metrics)
        return restrict(plan, entries, self.accepted(), self.name, self.accepted_across())

    def evaluate(
        self, data: BenchmarkData, ctx: EvalContext, sets: list[str] | None = None
    ) -> dict[str, SetResult]:
        """Per-set results of the requested sets (``None``: :attr:`default_sets`)."""
        raise NotImplementedError

    def retain_values(self, results: Mapping[str, SetResult]) -> dict[str, Any]:
        """What other models' metrics need from the retain model's results (``{}`` when the
        suite compares against no retain model): see :func:`.cross.retain_values`."""
        if not self.uses_retain_model:
            return {}
        return retain_values(results, self.mia_pairs)

    def aggregate(
        self, results: Mapping[str, SetResult], retain_values: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """The model's metrics: ``<set>/<metric>`` and the suite's cross-set values, compared
        against ``retain_values`` (the retain model's :meth:`retain_values`; None: none)."""
        return flatten(results)


__all__ = [
    "MEAN_FIELDS", "RETAIN_ITEM_FIELDS", "SUITES", "EvalContext", "SetResult", "Suite",
    "add_passage_extras", "aggregate_tofu_style", "evaluate_passage_set", "evaluate_qa_set",
    "finish_set", "flatten", "generation_metrics", "mia_pair_metrics", "reference_nlls",
    "register_suite", "retain_values", "scorer_perplexities", "set_means", "stats_metrics",
]  # fmt: skip
