"""Per-benchmark evaluation protocols: which sets, prompts, metrics and table layout."""

from __future__ import annotations

from ...errors import ObliviateError
from .knowundo import KnowUnDoSuite
from .rwku import RWKUSuite
from .synthkb import SynthKBSuite
from .tofu import TOFUSuite

SUITES = {"synthkb": SynthKBSuite, "tofu": TOFUSuite, "knowundo": KnowUnDoSuite, "rwku": RWKUSuite}


def get_suite(name: str):
    if name not in SUITES:
        raise ObliviateError(f"suite {name!r} is unknown; accepted: {', '.join(SUITES)}")
    return SUITES[name]()
