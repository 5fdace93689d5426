"""Benchmarks by name: each loader maps its source onto the canonical records once.

Every module of this package is imported here; each loader registers itself
(:func:`.registry.register_benchmark`) and its ``benchmark.*`` settings, so a new benchmark's
loader touches only its own module.
"""

from __future__ import annotations

import pkgutil
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

from ..config import section
from ..records import BenchmarkData
from .general import attach_general
from .registry import BENCHMARKS, BenchmarkInfo, register_benchmark


@section("benchmark")
@dataclass
class SynthKBSettings:
    """``benchmark.*`` keys of the synthkb generator."""

    people: int = 40
    holdout_people: int = 4
    seed: int = 0
    forget_fraction: float = 0.1
    forget_names: list[str] = field(default_factory=list)
    val_fraction: float = 0.2


def _load_synthkb(cfg: Any) -> BenchmarkData:
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


def load_benchmark(cfg: Any) -> BenchmarkData:
    """The benchmark's records; ``benchmark.general`` replaces ``data.general`` (general.py)."""
    return attach_general(BENCHMARKS[cfg.name].load(cfg), cfg)


__all__ = ["BENCHMARKS", "BenchmarkInfo", "load_benchmark", "register_benchmark"]
