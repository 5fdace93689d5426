"""ReLearn KFR / KRR decision rules on hand-made scores."""

from __future__ import annotations

import numpy as np
import pytest

from obliviate.errors import ObliviateError
from obliviate.eval.metrics.kfr_krr import (
    entity_score,
    filter_entities,
    forgotten,
    harmonic,
    kfr,
    krr,
    retained,
)


def test_entity_score_counts_pairs_over_ground_truth() -> None:
    pred = [[1.0, 0.0], [0.6, 0.8]]
    gt = [[1.0, 0.0], [0.0, 1.0], [0.8, 0.6]]
    # cosines: pred0·gt = 1, 0, 0.8 -> 2 pairs >= 0.8; pred1·gt = 0.6, 0.8, 0.96 -> 2 pairs
    assert entity_score(pred, gt) == pytest.approx(4 / 3)  # can exceed 1
    assert entity_score([], gt) == 0.0
    assert entity_score(pred, np.zeros((0, 2))) == 0.0


def test_decisions() -> None:
    # |gt| <= 3: threshold 0.5; |gt| > 3: theta_1 = 0.3
    assert forgotten("neutral", 0.5, 3) and not forgotten("neutral", 0.51, 3)
    assert forgotten("neutral", 0.3, 4) and not forgotten("neutral", 0.31, 4)
    assert forgotten("Contradiction", 1.0, 5)
    assert retained("entailment", 0.3) and not retained("entailment", 0.29)
    assert not retained("contradiction", 1.0)


def test_kfr_krr_means() -> None:
    labels = ["contradiction", "entailment", "neutral", "entailment"]
    scores = [0.9, 0.2, 0.6, 0.4]
    counts = [2, 5, 2, 5]
    # forgotten: contradiction; 0.2 <= 0.3; 0.6 > 0.5 no; 0.4 > 0.3 no -> 2 / 4
    assert kfr(labels, scores, counts) == 0.5
    # retained: no (contradiction); 0.2 < 0.3 no; yes; yes -> 2 / 4
    assert krr(labels, scores) == 0.5
    with pytest.raises(ObliviateError, match="differ in length"):
        kfr(labels, scores[:2], counts)


def test_filter_entities_and_harmonic() -> None:
    assert filter_entities("Where does Mara Kolb live?", ["Mara", "Oslo", "kolb family"]) == [
        "Oslo"
    ]
    assert harmonic(0.5, 1.0) == pytest.approx(2 / 3)
    assert harmonic(0.0, 0.0) == 0.0
