"""KnowUnDo: token accuracy, perplexity, success rates."""

from __future__ import annotations

import numpy as np
import pytest

from obliviate.errors import ObliviateError
from obliviate.eval.metrics.knowundo import (
    knowundo_scores,
    retention_success,
    token_accuracy,
    unlearn_success,
)


def test_token_accuracy() -> None:
    assert token_accuracy([True, False, True, True]) == pytest.approx(0.75, abs=1e-6)
    assert token_accuracy(np.array([1, 0])) == pytest.approx(0.5, abs=1e-6)


def test_token_accuracy_empty() -> None:
    with pytest.raises(ObliviateError, match="no labelled answer positions"):
        token_accuracy([])


def test_knowundo_scores_item_means() -> None:
    correct = [[True, False, True, True], np.array([True, False])]
    logprobs = [[-0.1, -2.0, -0.5, -0.2], [-1.0, -0.2]]
    scores = knowundo_scores(correct, logprobs)
    # acc_i = 0.75, 0.5 -> acc = 100 * 0.625.
    assert scores["acc"] == pytest.approx(62.5, abs=1e-6)
    # lp_i = -2.8/4 = -0.7 and -1.2/2 = -0.6 -> ppl = exp(0.65) = 1.9155408
    # (a token-weighted mean would give exp(4/6) = 1.9477340).
    assert scores["ppl"] == pytest.approx(1.9155408, abs=1e-6)


def test_knowundo_scores_mismatches() -> None:
    with pytest.raises(ObliviateError, match="1 accuracy items vs 2"):
        knowundo_scores([[True]], [[-0.1], [-0.2]])
    with pytest.raises(ObliviateError, match="item 0 has 2 accuracy positions but 1 log-probs"):
        knowundo_scores([[True, False]], [[-0.1]])
    with pytest.raises(ObliviateError, match="at least one item"):
        knowundo_scores([], [])


def test_success_rates() -> None:
    assert unlearn_success(62.5) == pytest.approx(37.5, abs=1e-6)
    assert retention_success(62.5) == pytest.approx(62.5, abs=1e-6)
