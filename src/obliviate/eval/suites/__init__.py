"""Per-benchmark evaluation protocols: which sets, prompts, metrics and table layout.

Every module of this package is imported here, so a suite registers itself with
``@register_suite`` in its own module (``base.Suite``); :func:`get_suite` finds it by name.
"""

from __future__ import annotations

import pkgutil
from importlib import import_module

from ...errors import ObliviateError
from .base import SUITES, Suite, register_suite

for _module in pkgutil.iter_modules(__path__):
    import_module(f"{__name__}.{_module.name}")


def get_suite(name: str) -> Suite:
    """A fresh instance of the suite registered as ``name``."""
    if name not in SUITES:
        raise ObliviateError(f"suite {name!r} is unknown; accepted: {', '.join(sorted(SUITES))}")
    return SUITES[name]()


__all__ = ["SUITES", "Suite", "get_suite", "register_suite"]
