"""Benchmarks by name: each loader maps its source onto the canonical records once.

Every module of this package is imported here; each loader registers itself
(:func:`.registry.register_benchmark`) and its ``benchmark.*`` settings, so a new benchmark's
loader touches only its own module.
"""

from __future__ import annotations

import pkgutil
from importlib import import_module
from typing import Any

from ..records import BenchmarkData
from .general import attach_general
from .registry import BENCHMARKS, BenchmarkInfo, register_benchmark

for _module in pkgutil.iter_modules(__path__):  # each loader registers itself on import
    import_module(f"{__name__}.{_module.name}")


def load_benchmark(cfg: Any) -> BenchmarkData:
    """The benchmark's records; ``benchmark.general`` replaces ``data.general`` (general.py)."""
    return attach_general(BENCHMARKS[cfg.name].load(cfg), cfg)


__all__ = ["BENCHMARKS", "BenchmarkInfo", "load_benchmark", "register_benchmark"]
