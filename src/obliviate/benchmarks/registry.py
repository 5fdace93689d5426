"""The benchmark registry and the ``benchmark.*`` keys every benchmark shares.

A loader module registers itself with :func:`register_benchmark` (a :class:`BenchmarkInfo`:
name, description, load function, suite name) and its own ``benchmark.*`` settings with
``config.section("benchmark")``; the package imports every module, so a new benchmark's loader
touches only its own module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class BenchmarkInfo:
    """A benchmark: ``load(cfg)`` gives its records; ``suite`` names its evaluation suite."""

    name: str
    description: str
    load: Callable[[Any], BenchmarkData]
    suite: str


BENCHMARKS: dict[str, BenchmarkInfo] = {}


def register_benchmark(info: BenchmarkInfo) -> BenchmarkInfo:
    """Make ``info`` the benchmark named ``info.name`` (called by the loader's module)."""
    if info.name in BENCHMARKS and BENCHMARKS[info.name] != info:
        raise ObliviateError(f"benchmark {info.name!r} is registered twice")
    BENCHMARKS[info.name] = info
    return info


@validator
def _check_benchmark(cfg: Any) -> None:
    if cfg.benchmark.name not in BENCHMARKS:
        raise ObliviateError(
            f"benchmark.name={cfg.benchmark.name!r} is unknown; "
            f"{did_you_mean(cfg.benchmark.name, list(BENCHMARKS))}"
        )
