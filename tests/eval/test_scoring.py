"""The batched scoring pass against a one-item-at-a-time full-vocabulary computation."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from obliviate.eval.scoring import score
from obliviate.formatting import IGNORE_INDEX, Encoded


def _reference(model: torch.nn.Module, enc: Encoded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unpadded forward over every position; stats at the labelled ones (shifted)."""
    ids = torch.tensor([enc.input_ids])
    with torch.no_grad():
        logp = F.log_softmax(model(input_ids=ids).logits[0, :-1].double(), -1)
    labels = torch.tensor(enc.labels[1:])
    keep = labels != IGNORE_INDEX
    lp = logp[keep].gather(-1, labels[keep].unsqueeze(-1)).squeeze(-1)
    p = logp[keep].exp()
    mu = (p * logp[keep]).sum(-1)
    sigma2 = (p * logp[keep].square()).sum(-1) - mu.square()
    return lp.numpy(), (logp[keep].argmax(-1) == labels[keep]).numpy(), sigma2.numpy()


def test_score_matches_full_forward_per_item(nano_model, formatter):
    """Prompts of different lengths in one batch, a passage labelled from its first token, and an
    item truncated to nothing labelled: the LM head runs only from the batch's first label on,
    yet every statistic equals the full computation."""
    items = [
        formatter.encode_pair("Who is Ada?", "A glassblower from Tarn."),
        formatter.encode_pair("Where was the long-lived Ada Lovelace born, and when?", "Paris."),
        formatter.encode_pair("Q", "a much longer answer with many words in it"),
        Encoded([5, 9, 11, 4, 7], [5, 9, 11, 4, 7]),  # every token labelled
        Encoded([5, 9, 11], [IGNORE_INDEX] * 3),  # nothing labelled
    ]
    got = score(nano_model, items, formatter.pad_id, batch_size=8, dist_stats=True)
    for enc, st in zip(items, got):
        lp, correct, sigma2 = _reference(nano_model, enc)
        assert st.n == len(lp)
        np.testing.assert_allclose(st.logprobs, lp, atol=1e-4)
        np.testing.assert_array_equal(st.correct, correct)
        np.testing.assert_allclose(st.sigma2, sigma2, atol=1e-4)
    assert got[4].n == 0
    # batching does not change the result
    single = [score(nano_model, [e], formatter.pad_id, dist_stats=True)[0] for e in items]
    for a, b in zip(got, single):
        np.testing.assert_allclose(a.logprobs, b.logprobs, atol=1e-5)
