"""Benchmarks by name: each loader maps its source onto the canonical records once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import section, validator
from ..errors import ObliviateError, did_you_mean
from ..records import BenchmarkData


@section("benchmark")
@dataclass
class BenchmarkSettings:
    """``benchmark.*`` keys every benchmark has; each loader adds its own part."""

    name: str = "synthkb"
    path: str = ""  # local copy instead of the hub


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


# after the common part: each loader registers its own ``benchmark.*`` part on import
from . import general, knowundo, rwku, tofu  # noqa: E402


@dataclass(frozen=True)
class BenchmarkInfo:
    name: str
    description: str
    load: Callable[[Any], BenchmarkData]
    suite: str


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


def _real(name: str, cfg: Any) -> BenchmarkData:
    """Hub benchmarks: ``datasets.load_dataset`` or a local copy at ``benchmark.path``."""
    return {"tofu": tofu, "knowundo": knowundo, "rwku": rwku}[name].load(cfg)


def load_benchmark(cfg: Any) -> BenchmarkData:
    """The benchmark's records; ``benchmark.general`` replaces ``data.general`` (general.py)."""
    return general.attach_general(BENCHMARKS[cfg.name].load(cfg), cfg)


@validator
def _check_benchmark(cfg: Any) -> None:
    if cfg.benchmark.name not in BENCHMARKS:
        raise ObliviateError(
            f"benchmark.name={cfg.benchmark.name!r} is unknown; "
            f"{did_you_mean(cfg.benchmark.name, list(BENCHMARKS))}"
        )
