"""synthkb as a registered benchmark: its ``benchmark.*`` keys and its loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...config import section
from ...records import BenchmarkData
from ..registry import BenchmarkInfo, register_benchmark
from .files import load_dir
from .splits import build


@section("benchmark")
@dataclass
class SynthKBSettings:
    """``benchmark.*`` keys of the synthkb generator (``benchmark.path`` = a ``data synth`` copy)."""

    people: int = 40
    holdout_people: int = 4
    seed: int = 0
    forget_fraction: float = 0.1
    forget_names: list[str] = field(default_factory=list)
    val_fraction: float = 0.2


def load(cfg: Any) -> BenchmarkData:
    """The local copy at ``benchmark.path`` when set, else a world generated from the settings."""
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
        load,
        "synthkb",
    )
)
