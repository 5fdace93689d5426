"""What one registered metric is: :class:`MetricSpec` and the per-item inputs its function reads.

A metric's ``kind`` names the pass it is computed from:

- ``scoring``: the set's one teacher-forced scoring pass (per item, from :class:`ScoredItem`);
- ``generation``: the set's one greedy generation pass (per item, from :class:`Generated`);
- ``cross``: across sets or against the retain model's values (computed by the suite);
- ``own``: a pass of its own, run only when asked for by name (never in a group);
- ``protocol``: part of a benchmark's own protocol, always computed by the suites in ``suites``
  (asking for it is accepted there and changes nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ..scoring import ItemStats

Kind = Literal["scoring", "generation", "cross", "own", "protocol"]


@dataclass(frozen=True)
class ScoredItem:
    """One item's scoring statistics: ``st`` (lp_t, argmax hits, μ_t, σ²_t), the scored answer
    or passage ``text`` (ZLib), ``eval.min_k``, whether the scored ids are MEOW MA's prompt
    ids (``eval.meow_prompt=template`` on a QA set) and ``eval.protocol`` (ES on no match)."""

    st: ItemStats
    text: str
    min_k: float = 0.4
    template: bool = True
    protocol: str = "paper"


@dataclass(frozen=True)
class Generated:
    """One item's greedy generation and its reference answer."""

    gen: str
    ref: str


@dataclass(frozen=True)
class MetricSpec:
    """One user-facing metric.

    ``fn``: the pure function that computes it (module ``eval.metrics.*``); ``per_item``: what
    the shared passes call per item (a :class:`ScoredItem` for ``scoring``, a :class:`Generated`
    for ``generation``; None = leave the key out); ``implies``: metrics computed with it;
    ``mean``: its set value is the NaN-skipping mean of the items'; ``attack``: a MIA score
    (loss-like, AUC ``<pair>/auc_<name without mia_>``); ``dist``: needs μ_t / σ²_t from the
    scoring pass; ``passage``: computable on raw-text sets; ``pair``: computed from a member /
    non-member pair; ``uses_generation``: reads the generation pass although its kind is ``own``;
    ``per_set``: reported per set (``<set>/<output>``) rather than once per model; ``output``:
    the key it is reported under (default: its name); ``suites``: for ``protocol`` metrics, the
    suites that compute them.
    """

    name: str
    description: str
    source: str
    kind: Kind
    fn: Callable[..., Any] | None = None
    per_item: Callable[[Any], float | None] | None = None
    implies: tuple[str, ...] = ()
    default: bool = False
    mean: bool = False
    attack: bool = False
    dist: bool = False
    passage: bool = False
    pair: bool = False
    uses_generation: bool = False
    per_set: bool = True
    output: str = ""
    suites: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The key this metric is reported under (``<set>/<key>`` when ``per_set``; an attack's
        AUC as ``<pair>/auc_<name without mia_>``)."""
        return self.output or (f"auc_{self.name[4:]}" if self.attack else self.name)


def nan_unless(ok: bool, fn: Callable[[], float]) -> float:
    """``fn()`` if ``ok`` else NaN (a metric undefined on a too-short item)."""
    return fn() if ok else float("nan")
