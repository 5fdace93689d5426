"""Each loss against a hand computation of the SPEC formula on fixed logits."""

from __future__ import annotations

import math

import pytest
import torch

from obliviate.methods.losses import (
    kl_on_labels,
    npo_loss,
    sequence_nll,
    simnpo_loss,
    token_nll,
)

# two sequences of length 4 over a vocabulary of 3; position t predicts label t+1
LOGITS = torch.tensor(
    [
        [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 1.0, 1.0]],
        [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [5.0, 5.0, 5.0]],
    ]
)
LABELS = torch.tensor([[-100, 0, 1, 2], [-100, -100, 2, -100]])


def _nll(row, label):
    return -math.log(math.exp(row[label]) / sum(math.exp(v) for v in row))


# labelled targets: seq0 -> (pos0, 0), (pos1, 1), (pos2, 2); seq1 -> (pos1, 2)
L00 = _nll([2.0, 0.0, 0.0], 0)
L01 = _nll([0.0, 1.0, 0.0], 1)
L02 = _nll([0.0, 0.0, 3.0], 2)
L11 = _nll([1.0, 2.0, 3.0], 2)


def test_token_nll_and_mask():
    nll, mask = token_nll(LOGITS, LABELS)
    assert mask.tolist() == [[True, True, True], [False, True, False]]
    assert nll[0].tolist() == pytest.approx([L00, L01, L02], abs=1e-6)
    assert nll[1].tolist() == pytest.approx([0.0, L11, 0.0], abs=1e-6)


def test_reductions():
    assert float(sequence_nll(LOGITS, LABELS, "batch_token_mean")) == pytest.approx(
        (L00 + L01 + L02 + L11) / 4, abs=1e-6
    )
    assert sequence_nll(LOGITS, LABELS, "seq_sum").tolist() == pytest.approx(
        [L00 + L01 + L02, L11], abs=1e-6
    )
    assert sequence_nll(LOGITS, LABELS, "seq_mean").tolist() == pytest.approx(
        [(L00 + L01 + L02) / 3, L11], abs=1e-6
    )


def _logsig(x):
    return -math.log1p(math.exp(-x))


def test_npo_hand_computation():
    nll = torch.tensor([3.0, 1.0])
    ref = torch.tensor([2.0, 2.0])
    beta = 0.1
    expected = -(2 / beta) * (_logsig(beta * 1.0) + _logsig(beta * -1.0)) / 2
    assert float(npo_loss(nll, ref, beta)) == pytest.approx(expected, abs=1e-5)
    # NPO at initialisation (θ = ref) equals (2/β)·log 2
    assert float(npo_loss(ref, ref, beta)) == pytest.approx(2 / beta * math.log(2), abs=1e-5)


def test_simnpo_hand_computation():
    nll_sum, n = torch.tensor([6.0, 2.0]), torch.tensor([3, 1])
    beta, delta = 4.5, 0.5
    expected = -(2 / beta) * (_logsig(beta * (2.0 - 0.5)) + _logsig(beta * (2.0 - 0.5))) / 2
    assert float(simnpo_loss(nll_sum, n, beta, delta)) == pytest.approx(expected, abs=1e-5)


def test_kl_only_on_labelled_positions():
    ref = torch.zeros_like(LOGITS)  # uniform reference
    kl = float(kl_on_labels(LOGITS, ref, LABELS))

    def kl_uniform(row):
        z = sum(math.exp(v) for v in row)
        p = [math.exp(v) / z for v in row]
        return sum((1 / 3) * (math.log(1 / 3) - math.log(q)) for q in p)

    rows = [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 2.0, 3.0]]
    assert kl == pytest.approx(sum(kl_uniform(r) for r in rows) / 4, abs=1e-6)
    assert float(kl_on_labels(LOGITS, LOGITS, LABELS)) == pytest.approx(0.0, abs=1e-6)
