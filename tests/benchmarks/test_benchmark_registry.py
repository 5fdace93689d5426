"""The benchmark registry: loaders register from their own modules, each names a known suite."""

from __future__ import annotations

import pytest

from obliviate.benchmarks import BENCHMARKS, BenchmarkInfo, register_benchmark
from obliviate.errors import ObliviateError
from obliviate.eval.suites import SUITES, get_suite


def test_every_benchmark_has_a_loader_and_a_registered_suite() -> None:
    assert set(BENCHMARKS) == {"synthkb", "tofu", "knowundo", "rwku", "muse", "wmdp"}
    for name, info in BENCHMARKS.items():
        assert info.name == name and info.description
        assert info.suite in SUITES and get_suite(info.suite).name == info.suite
        if name != "synthkb":  # hub loaders register from their own module
            assert info.load.__module__ == f"obliviate.benchmarks.{name}"


def test_registering_a_name_twice_is_an_error() -> None:
    info = BENCHMARKS["tofu"]
    assert register_benchmark(info) is info  # the same entry again is harmless
    with pytest.raises(ObliviateError, match="'tofu' is registered twice"):
        register_benchmark(BenchmarkInfo("tofu", "other", info.load, "tofu"))
    assert BENCHMARKS["tofu"] is info


def test_suites_register_themselves() -> None:
    assert set(SUITES) == {info.suite for info in BENCHMARKS.values()}
    for name, cls in SUITES.items():
        suite = cls()
        assert suite.name == name and set(suite.default_sets) <= set(suite.sets)
        assert set(suite.headline) and suite.set_names(["all"]) == list(suite.sets)
        with pytest.raises(ObliviateError, match=f"not in the {name} suite"):
            suite.set_names(["nowhere"])
    with pytest.raises(ObliviateError, match="suite 'nope' is unknown; accepted: knowundo"):
        get_suite("nope")
