"""Benchmarks by name: each loader maps its source onto the canonical records once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..config import BenchmarkConfig
from ..records import BenchmarkData


@dataclass(frozen=True)
class BenchmarkInfo:
    name: str
    description: str
    load: Callable[[BenchmarkConfig], BenchmarkData]
    suite: str


def _load_synthkb(cfg: BenchmarkConfig) -> BenchmarkData:
    from .synthkb import build

    return build(
        num_people=cfg.people,
        seed=cfg.seed,
        forget_fraction=cfg.forget_fraction,
        forget_names=list(cfg.forget_names) or None,
        val_fraction=cfg.val_fraction,
        holdout_people=cfg.holdout_people,
    )


BENCHMARKS: dict[str, BenchmarkInfo] = {
    "synthkb": BenchmarkInfo(
        "synthkb",
        "generated fictitious people, fully offline (TOFU/RWKU/KnowUnDo shapes)",
        _load_synthkb,
        "synthkb",
    ),
}


def load_benchmark(cfg: BenchmarkConfig) -> BenchmarkData:
    return BENCHMARKS[cfg.name].load(cfg)
