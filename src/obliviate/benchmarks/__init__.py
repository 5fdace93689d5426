"""Benchmarks by name: each loader maps its source onto the canonical records once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import BenchmarkConfig
from ..records import BenchmarkData


@dataclass(frozen=True)
class BenchmarkInfo:
    name: str
    description: str
    load: Callable[[BenchmarkConfig], BenchmarkData]
    suite: str


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


BENCHMARKS: dict[str, BenchmarkInfo] = {
    "synthkb": BenchmarkInfo(
        "synthkb",
        "generated fictitious people, fully offline (TOFU/RWKU/KnowUnDo shapes)",
        _load_synthkb,
        "synthkb",
    ),
    "tofu": BenchmarkInfo(
        "tofu",
        "TOFU (locuslab/TOFU): fictitious authors; benchmark.split=forget01|forget05|forget10",
        lambda cfg: _real("tofu", cfg),
        "tofu",
    ),
    "knowundo": BenchmarkInfo(
        "knowundo",
        "KnowUnDo (zjunlp/KnowUnDo): benchmark.domain=copyright|privacy",
        lambda cfg: _real("knowundo", cfg),
        "knowundo",
    ),
    "rwku": BenchmarkInfo(
        "rwku",
        "RWKU (jinzhuoran/RWKU): real people; benchmark.targets=1 | 1-10, benchmark.corpus",
        lambda cfg: _real("rwku", cfg),
        "rwku",
    ),
}


def _real(name: str, cfg: BenchmarkConfig) -> BenchmarkData:
    """Hub benchmarks: ``datasets.load_dataset`` or a local copy at ``benchmark.path``."""
    from importlib import import_module

    return import_module(f".{name}", __name__).load(cfg)


def load_benchmark(cfg: BenchmarkConfig) -> BenchmarkData:
    """The benchmark's records; ``benchmark.general`` replaces ``data.general`` (general.py)."""
    from .general import attach_general

    return attach_general(BENCHMARKS[cfg.name].load(cfg), cfg)
