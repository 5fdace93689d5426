"""MEOW MA and EL formulas (SPEC 6.5) on fixed inputs."""

from __future__ import annotations

import math

import pytest

from obliviate.errors import ObliviateError
from obliviate.eval.metrics.meow import el_overlap, extraction_likelihood, memorisation_accuracy


def test_memorisation_accuracy_skips_first_token() -> None:
    # n = 5 answer tokens; indicators for i = 1..4 are 1, 0, 1, 1 -> 3 / 4
    assert memorisation_accuracy([0, 1, 0, 1, 1]) == 0.75
    with pytest.raises(ObliviateError, match="at least 2"):
        memorisation_accuracy([1])


def test_el_overlap_and_mean() -> None:
    answer = "Mara works as a pilot"
    # generation words {a, pilot, today}: 2 in the answer -> 2 / 3
    assert el_overlap("a pilot today", answer) == pytest.approx(2 / 3)
    assert el_overlap("", answer) == 0.0  # MEOW divides by zero here
    assert extraction_likelihood(["a pilot today", "pilot"], answer) == pytest.approx(5 / 6)
    assert math.isnan(extraction_likelihood([], answer))
