"""ReLearn's Knowledge Forgetting Rate and Knowledge Retention Rate: the decision rules (SPEC 6.6).

Per item i, from a generation and its ground truth:

- entities: key entities extracted from the generation (minus those sharing a lowercased word
  with the query) and from the ground truth;
- E_i = |{(a, b) : cos(emb(a), emb(b)) ≥ 0.8}| / |ent_gt| over predicted × ground-truth entity
  pairs (can exceed 1); E_i = 0 when either list is empty;
- NLI_i = the NLI model's top label; forget: premise = generation, hypothesis = ground truth;
  retain: premise = ground truth, hypothesis = generation.

KFR = mean_i 1[NLI_i = contradiction ∨ E_i ≤ c_i], c_i = 0.5 if |ent_gt| ≤ 3 else θ₁ = 0.3.
KRR = mean_i 1[NLI_i ≠ contradiction ∧ E_i ≥ θ₂], θ₂ = 0.3.
Harmonic_F = HM(1 − ROUGE-L recall_F, KFR); Harmonic_R = HM(ROUGE-L recall_R, KRR).

Source: ReLearn (Xu et al. 2025), zjunlp/unlearn ``evals/evaluate.py`` (``compute_kfr``,
``compute_krr``, ``fuzzy_jaccard_similarity_from_embeddings``, ``filter_entities``); the
"E ≤ θ for forgetting" direction of ReLearn issue #3 (SPEC 8 #26). Model-side plumbing (NLI,
embeddings, entity extraction) lives in :mod:`obliviate.eval.kfr_krr`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from obliviate.errors import ObliviateError
from obliviate.eval.metrics.linguistic import word_tokenize

CONTRADICTION = "contradiction"
SIM_THRESHOLD = 0.8
THETA_1 = 0.3
THETA_2 = 0.3
SMALL_GT = 3  # |ent_gt| ≤ 3 uses the stricter threshold 0.5
SMALL_GT_THRESHOLD = 0.5


def filter_entities(query: str, entities: Sequence[str]) -> list[str]:
    """Drop predicted entities that share a lowercased word token with the query.

    Source: ReLearn ``filter_entities`` (NLTK ``word_tokenize``; here the regex port).
    """
    query_words = set(word_tokenize(query.lower()))
    return [e for e in entities if not query_words & set(word_tokenize(e.lower()))]


def entity_score(
    pred_embeddings: ArrayLike, gt_embeddings: ArrayLike, threshold: float = SIM_THRESHOLD
) -> float:
    """E = |{(a, b) : cos(a, b) ≥ threshold}| / |gt| over predicted × ground-truth embeddings.

    0 when either side is empty. Source: ReLearn ``fuzzy_jaccard_similarity_from_embeddings``
    (its union is |reference|, so E can exceed 1).
    """
    pred = np.asarray(pred_embeddings, dtype=np.float64)
    gt = np.asarray(gt_embeddings, dtype=np.float64)
    if pred.size == 0 or gt.size == 0:
        return 0.0
    pred = pred.reshape(len(pred), -1)
    gt = gt.reshape(len(gt), -1)
    pred = pred / np.linalg.norm(pred, axis=1, keepdims=True)
    gt = gt / np.linalg.norm(gt, axis=1, keepdims=True)
    return float((pred @ gt.T >= threshold).sum() / len(gt))


def forgotten(nli_label: str, e: float, n_gt_entities: int, theta_1: float = THETA_1) -> bool:
    """KFR decision: contradiction, or E ≤ c with c = 0.5 if |ent_gt| ≤ 3 else θ₁."""
    c = SMALL_GT_THRESHOLD if n_gt_entities <= SMALL_GT else theta_1
    return nli_label.lower() == CONTRADICTION or e <= c


def retained(nli_label: str, e: float, theta_2: float = THETA_2) -> bool:
    """KRR decision: not a contradiction and E ≥ θ₂."""
    return nli_label.lower() != CONTRADICTION and e >= theta_2


def _check(n: int, *others: Sequence, what: str) -> None:
    if n == 0:
        raise ObliviateError(f"{what}: no items")
    if any(len(o) != n for o in others):
        raise ObliviateError(f"{what}: NLI labels, entity scores and counts differ in length")


def kfr(
    nli_labels: Sequence[str],
    entity_scores: Sequence[float],
    n_gt_entities: Sequence[int],
    theta_1: float = THETA_1,
) -> float:
    """KFR = mean_i 1[NLI_i = contradiction ∨ E_i ≤ c_i] (see :func:`forgotten`)."""
    _check(len(nli_labels), entity_scores, n_gt_entities, what="kfr")
    flags = [
        forgotten(label, e, n, theta_1)
        for label, e, n in zip(nli_labels, entity_scores, n_gt_entities)
    ]
    return float(np.mean(flags))


def krr(
    nli_labels: Sequence[str], entity_scores: Sequence[float], theta_2: float = THETA_2
) -> float:
    """KRR = mean_i 1[NLI_i ≠ contradiction ∧ E_i ≥ θ₂] (see :func:`retained`)."""
    _check(len(nli_labels), entity_scores, what="krr")
    return float(
        np.mean([retained(label, e, theta_2) for label, e in zip(nli_labels, entity_scores)])
    )


def harmonic(a: float, b: float) -> float:
    """2ab / (a + b), 0 when a + b = 0 (ReLearn ``Harmonic_F`` / ``Harmonic_R``)."""
    return 2.0 * a * b / (a + b) if a + b > 0 else 0.0
