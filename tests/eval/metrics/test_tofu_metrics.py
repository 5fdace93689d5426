"""TOFU family: probability, truth ratio, forget quality, model utility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from obliviate.errors import ObliviateError
from obliviate.eval.metrics.tofu import (
    forget_quality,
    length_normalised_prob,
    model_utility,
    nll_mean,
    normalised_prob,
    truth_ratio,
    truth_ratio_closer_to_1,
    truth_ratio_prob_mean,
    truth_ratio_true_better,
)

LOGPROBS = [-0.1, -2.0, -0.5]  # sum -2.6 over n = 3


def test_nll_mean_and_prob() -> None:
    # NLL_mean = 2.6 / 3 = 0.8666667; P̃ = exp(-0.8666667) = 0.4203504.
    assert nll_mean(LOGPROBS) == pytest.approx(0.8666667, abs=1e-6)
    assert length_normalised_prob(np.array(LOGPROBS)) == pytest.approx(0.4203504, abs=1e-6)


def test_nll_mean_empty_raises() -> None:
    with pytest.raises(ObliviateError, match="empty"):
        nll_mean([])


def test_normalised_prob() -> None:
    # 0.6 / (0.6 + 0.1 + 0.1 + 1e-10) = 0.75.
    assert normalised_prob(0.6, [0.1, 0.1]) == pytest.approx(0.75, abs=1e-6)


def test_truth_ratio_geometric() -> None:
    # P̃_wrong = exp(-(1 + 2) / 2) = exp(-1.5); P̃_correct = exp(-0.5); tr = exp(-1) = 0.3678794.
    assert truth_ratio(0.5, [1.0, 2.0]) == pytest.approx(0.3678794, abs=1e-6)


def test_truth_ratio_arithmetic() -> None:
    # P̃_wrong = (e^-1 + e^-2) / 2 = (0.3678794 + 0.1353353) / 2 = 0.2516074;
    # tr = 0.2516074 / e^-0.5 = 0.2516074 / 0.6065307 = 0.4148304.
    assert truth_ratio(0.5, [1.0, 2.0], mean="arithmetic") == pytest.approx(0.4148304, abs=1e-6)


def test_truth_ratio_eps_matters_only_for_collapsed_models() -> None:
    # P̃_correct = P̃_wrong = e^-40 = 4.248e-18: exact tr = 1, OU's +1e-10 gives 4.248e-8.
    assert truth_ratio(40.0, [40.0], eps=0.0) == pytest.approx(1.0, abs=1e-9)
    assert truth_ratio(40.0, [40.0]) == pytest.approx(math.exp(-40) / 1e-10, rel=1e-6)


def test_truth_ratio_unknown_mean() -> None:
    with pytest.raises(ObliviateError, match="accepted: arithmetic, geometric"):
        truth_ratio(0.5, [1.0], mean="harmonic")  # type: ignore[arg-type]


def test_truth_ratio_aggregators() -> None:
    # closer_to_1: min(0.5, 2) = 0.5, min(2, 0.5) = 0.5, min(1, 1) = 1 -> 2/3.
    assert truth_ratio_closer_to_1([0.5, 2.0, 1.0]) == pytest.approx(2 / 3, abs=1e-6)
    # tr = 0 -> min(0, inf) = 0; with tr = 1 -> mean 0.5.
    assert truth_ratio_closer_to_1([0.0, 1.0]) == pytest.approx(0.5, abs=1e-6)
    # true_better: max(0, 0.75), max(0, -0.5) -> (0.75 + 0) / 2.
    assert truth_ratio_true_better([0.25, 1.5]) == pytest.approx(0.375, abs=1e-6)
    # prob_mean: 0.6 / 0.8 = 0.75, 0.2 / 0.4 = 0.5 -> 0.625.
    assert truth_ratio_prob_mean([0.6, 0.2], [0.2, 0.2]) == pytest.approx(0.625, abs=1e-6)


def test_forget_quality_identical_samples() -> None:
    assert forget_quality([0.1, 0.5, 0.9], np.array([0.1, 0.5, 0.9])) == pytest.approx(
        1.0, abs=1e-6
    )


def test_forget_quality_separated_samples() -> None:
    # D = 1; exact two-sided p = 2 / C(6, 3) = 2 / 20.
    assert forget_quality([1, 2, 3], [4, 5, 6]) == pytest.approx(0.1, abs=1e-6)


@pytest.mark.parametrize(
    ("unlearned", "retain", "who"), [([], [1.0], "unlearned"), ([1.0], [], "retain")]
)
def test_forget_quality_missing_side(unlearned: list[float], retain: list[float], who: str) -> None:
    with pytest.raises(ObliviateError, match=f"{who} model's per-item forget truth ratios"):
        forget_quality(unlearned, retain)


def test_model_utility_harmonic_mean() -> None:
    # 3 / (1/1 + 1/0.5 + 1/0.25) = 3 / 7.
    assert model_utility({"a": 1.0, "b": 0.5, "c": 0.25}) == pytest.approx(3 / 7, abs=1e-6)


def test_model_utility_zero_component() -> None:
    assert model_utility({"a": 0.9, "b": 0.0, "c": 0.5}) == 0.0


def test_model_utility_empty() -> None:
    with pytest.raises(ObliviateError, match="at least one component"):
        model_utility({})
