"""Benchmarks by name: each loader maps its source onto the canonical records once.

A loader module registers itself with :func:`register_benchmark` (a :class:`BenchmarkInfo`:
name, description, load function, suite name); every module of this package is imported here,
so a new benchmark's loader touches only its own module.
"""

from __future__ import annotations

import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from ..config import BenchmarkConfig
from ..errors import ObliviateError
from ..records import BenchmarkData


@dataclass(frozen=True)
class BenchmarkInfo:
    """A benchmark: ``load(cfg)`` gives its records; ``suite`` names its evaluation suite."""

    name: str
    description: str
    load: Callable[[BenchmarkConfig], BenchmarkData]
    suite: str


BENCHMARKS: dict[str, BenchmarkInfo] = {}


def register_benchmark(info: BenchmarkInfo) -> BenchmarkInfo:
    """Make ``info`` the benchmark named ``info.name`` (called by the loader's module)."""
    if info.name in BENCHMARKS and BENCHMARKS[info.name] != info:
        raise ObliviateError(f"benchmark {info.name!r} is registered twice")
    BENCHMARKS[info.name] = info
    return info


def _load_synthkb(cfg: BenchmarkConfig) -> BenchmarkData:
    from .synthkb import build, load_dir

    if cfg.path:
        return load_dir(Path(cfg.path))
    return build(
        num_people=cfg.people,
        seed=cfg.seed,
        forget_fraction=cfg.forget_fraction,
        forget_names=list(cfg.forget_names) or None,
        val_fraction=cfg.val_fraction,
        holdout_people=cfg.holdout_people,
    )


register_benchmark(
    BenchmarkInfo(
        "synthkb",
        "generated fictitious people, fully offline (TOFU/RWKU/KnowUnDo shapes)",
        _load_synthkb,
        "synthkb",
    )
)

for _module in pkgutil.iter_modules(__path__):  # each loader registers itself on import
    import_module(f"{__name__}.{_module.name}")


def load_benchmark(cfg: BenchmarkConfig) -> BenchmarkData:
    """The benchmark's records; ``benchmark.general`` replaces ``data.general`` (general.py)."""
    from .general import attach_general

    return attach_general(BENCHMARKS[cfg.name].load(cfg), cfg)
