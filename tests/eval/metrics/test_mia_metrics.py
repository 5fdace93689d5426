"""MIA scores (OU and RWKU forms), AUC, privleak."""

from __future__ import annotations

import numpy as np
import pytest

from obliviate.errors import ObliviateError
from obliviate.eval.metrics.mia import (
    auc,
    mia_loss,
    mia_min_k,
    mia_min_k_plus_plus,
    mia_reference,
    mia_zlib,
    privleak,
    rel_diff,
    rwku_fm_rm,
    rwku_min_k,
    rwku_min_k_plus_plus,
)

# Four answer tokens and a very unlikely final EOS label.
WITH_EOS = [-0.1, -2.0, -0.5, -3.0, -9.0]


def test_mia_loss() -> None:
    # (0.1 + 2.0 + 0.5) / 3.
    assert mia_loss([-0.1, -2.0, -0.5]) == pytest.approx(0.8666667, abs=1e-6)


def test_mia_zlib() -> None:
    # len(zlib.compress(b"hello")) = 13 -> 0.8666667 / 13.
    assert mia_zlib([-0.1, -2.0, -0.5], "hello") == pytest.approx(0.0666667, abs=1e-6)


def test_mia_min_k_excludes_eos() -> None:
    # n = 4 after dropping EOS, ⌊0.5 * 4⌋ = 2 smallest: -3.0, -2.0 -> -mean = 2.5.
    assert mia_min_k(WITH_EOS, k=0.5) == pytest.approx(2.5, abs=1e-6)
    # with EOS: n = 5, ⌊2.5⌋ = 2 smallest: -9.0, -3.0 -> 6.0.
    assert mia_min_k(np.array(WITH_EOS), k=0.5, exclude_last=False) == pytest.approx(6.0, abs=1e-6)


def test_mia_min_k_floor_zero_uses_one_token() -> None:
    # n = 2 after EOS, ⌊0.4 * 2⌋ = 0 -> one token, the smallest (-2.0) -> 2.0.
    assert mia_min_k([-0.1, -2.0, -0.3], k=0.4) == pytest.approx(2.0, abs=1e-6)


def test_mia_min_k_errors() -> None:
    with pytest.raises(ObliviateError, match="no scored tokens left"):
        mia_min_k([-0.3])
    with pytest.raises(ObliviateError, match=r"k must lie in \(0, 1\]"):
        mia_min_k(WITH_EOS, k=0.0)


def test_mia_min_k_plus_plus() -> None:
    lp = [-0.5, -2.0, -1.0, -0.1]
    mu = [-1.0, -1.0, -1.5, -0.2]
    sigma2 = [0.25, 1.0, 0.0, 1.0]
    # EOS dropped; z = (-0.5+1)/0.5 = 1, (-2+1)/1 = -1, (-1+1.5)/sqrt(1e-6) = 0.5/0.001 = 500.
    # k = 0.4: ⌊1.2⌋ = 1 -> smallest z = -1 -> score 1.
    assert mia_min_k_plus_plus(lp, mu, sigma2, k=0.4) == pytest.approx(1.0, abs=1e-6)
    # k = 1: -mean(1, -1, 500) = -500/3.
    assert mia_min_k_plus_plus(lp, mu, sigma2, k=1.0) == pytest.approx(-166.6666667, abs=1e-6)


def test_mia_min_k_plus_plus_length_mismatch() -> None:
    with pytest.raises(ObliviateError, match="differ in length"):
        mia_min_k_plus_plus([-0.1, -0.2], [-0.1], [1.0, 1.0])


def test_mia_reference() -> None:
    assert mia_reference(0.9, 0.4) == pytest.approx(0.5, abs=1e-6)


def test_auc_with_ties() -> None:
    # holdout 0.8 beats all 3 forget scores (3); holdout 0.4 beats 0.1 and 0.35 and ties 0.4
    # (2 + 0.5) -> 5.5 / (3 * 2).
    assert auc([0.1, 0.4, 0.35], [0.8, 0.4]) == pytest.approx(5.5 / 6, abs=1e-6)


def test_auc_extremes() -> None:
    assert auc([0.1, 0.2], [0.3, 0.4]) == pytest.approx(1.0, abs=1e-6)
    assert auc([0.3, 0.4], [0.1, 0.2]) == pytest.approx(0.0, abs=1e-6)
    assert auc([0.5, 0.5], [0.5, 0.5, 0.5]) == pytest.approx(0.5, abs=1e-6)


def test_auc_empty() -> None:
    with pytest.raises(ObliviateError, match="got 0 forget and 1 holdout"):
        auc([], [0.1])


def test_privleak_and_rel_diff() -> None:
    assert privleak(0.5) == pytest.approx(0.0, abs=1e-6)
    # ((1 - 1) - 0.5) / 0.5 * 100 = -100 (fine-tuned model).
    assert privleak(1.0) == pytest.approx(-100.0, abs=1e-6)
    # ((1 - 0.3) - (1 - 0.4)) / 0.6 * 100 = 0.1 / 0.6 * 100.
    assert privleak(0.3, auc_retain=0.4) == pytest.approx(16.6666667, abs=1e-6)
    # (0.3 - 0.4) / 0.4 * 100.
    assert rel_diff(0.3, auc_retain=0.4) == pytest.approx(-25.0, abs=1e-6)


def test_rwku_min_k_keeps_sign_and_all_tokens() -> None:
    lp = [-0.1, -2.0, -0.5, -3.0]
    # ⌊0.5 * 4⌋ = 2: mean(-3, -2) = -2.5 (no negation, no EOS exclusion).
    assert rwku_min_k(lp, k=0.5) == pytest.approx(-2.5, abs=1e-6)
    # ⌊0.2 * 4⌋ = 0 (RWKU: NaN) -> one token -> -3.0.
    assert rwku_min_k(lp, k=0.2) == pytest.approx(-3.0, abs=1e-6)


def test_rwku_min_k_plus_plus() -> None:
    lp, mu = [-0.5, -2.0, -1.0], [-1.0, -1.0, -1.5]
    # z = 1, -1, 0.5; k = 0.2: ⌊0.6⌋ = 0 -> one token -> -1; k = 1 -> (1 - 1 + 0.5) / 3.
    assert rwku_min_k_plus_plus(lp, mu, [0.25, 1.0, 1.0]) == pytest.approx(-1.0, abs=1e-6)
    assert rwku_min_k_plus_plus(lp, mu, [0.25, 1.0, 1.0], k=1.0) == pytest.approx(0.5 / 3, abs=1e-6)
    # σ² = 1e-8: raw RWKU z3 = 0.5 / 1e-4 = 5000; default clamp 1e-6 gives 0.5 / 1e-3 = 500.
    tiny = [0.25, 1.0, 1e-8]
    assert rwku_min_k_plus_plus(lp, mu, tiny, k=1.0, sigma2_min=0.0) == pytest.approx(
        5000 / 3, abs=1e-6
    )
    assert rwku_min_k_plus_plus(lp, mu, tiny, k=1.0) == pytest.approx(500 / 3, abs=1e-6)


def test_rwku_fm_rm() -> None:
    # 100 * (2.0 + 2.5) / 2.
    assert rwku_fm_rm([2.0, 2.5]) == pytest.approx(225.0, abs=1e-6)
    with pytest.raises(ObliviateError, match="no texts scored"):
        rwku_fm_rm([])
