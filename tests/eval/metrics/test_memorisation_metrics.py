"""Exact memorisation and extraction strength."""

from __future__ import annotations

import numpy as np
import pytest

from obliviate.errors import ObliviateError
from obliviate.eval.metrics.memorisation import exact_memorisation, extraction_strength


def test_exact_memorisation_excludes_eos() -> None:
    correct = [True, False, True, True, False]  # last = EOS
    assert exact_memorisation(correct) == pytest.approx(3 / 4, abs=1e-6)
    assert exact_memorisation(np.array(correct), exclude_last=False) == pytest.approx(
        3 / 5, abs=1e-6
    )


def test_extraction_strength_suffix() -> None:
    # answer positions F T F T T (EOS dropped): last wrong at index 2 -> k* = 3, ES = 1 - 3/5.
    assert extraction_strength([False, True, False, True, True, True]) == pytest.approx(
        0.4, abs=1e-6
    )


def test_extraction_strength_all_correct() -> None:
    assert extraction_strength([True, True, True, False]) == pytest.approx(1.0, abs=1e-6)


def test_extraction_strength_no_suffix_matches_is_zero() -> None:
    # last answer prediction wrong: no suffix matches -> 0 (OU returns 1/n = 1/3).
    assert extraction_strength([True, True, False, True]) == 0.0
    # with EOS kept and wrong: 0 as well (OU: 1/6).
    correct = [False, True, False, True, True, False]
    assert extraction_strength(correct, exclude_last=False) == 0.0


def test_memorisation_empty_raises() -> None:
    with pytest.raises(ObliviateError, match="no answer positions left"):
        exact_memorisation([True])
    with pytest.raises(ObliviateError, match="no answer positions left"):
        extraction_strength([], exclude_last=False)
