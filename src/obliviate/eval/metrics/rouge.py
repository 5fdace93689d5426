"""ROUGE metrics: Google ``rouge_score`` (TOFU, MUSE, ReLearn) and pltrdy ``rouge==1.0.1`` (RWKU).

SPEC 6.1 (TOFU/OU ROUGE) and 6.3 (RWKU ROUGE-L recall). Scores are per item; callers average.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from obliviate.errors import ObliviateError

if TYPE_CHECKING:
    from rouge_score.rouge_scorer import RougeScorer


@functools.cache
def _scorer() -> RougeScorer:
    """The one shared ``RougeScorer(["rouge1", "rougeL"], use_stemmer=True)`` (imported lazily)."""
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)


def _check_pairs(predictions: Sequence[str], references: Sequence[str]) -> None:
    if len(predictions) != len(references):
        raise ObliviateError(
            f"ROUGE needs one reference per prediction: got {len(predictions)} predictions "
            f"and {len(references)} references"
        )


def rouge_l_recall(prediction: str, reference: str) -> float:
    """TOFU ROUGE-L recall = LCS(gen, gt) / |gt tokens|.

    ``RougeScorer(["rouge1", "rougeL"], use_stemmer=True).score(gt, gen)["rougeL"].recall``
    (target first), i.e. lowercased, punctuation-stripped, Porter-stemmed tokens.
    Source: TOFU (Maini et al. 2024), OU ``eval_rouge_recall``; SPEC 6.1.
    """
    return float(_scorer().score(reference, prediction)["rougeL"].recall)


def rouge_scores(predictions: Sequence[str], references: Sequence[str]) -> dict[str, list[float]]:
    """Per-item ``rouge1_recall``, ``rougeL_recall`` (TOFU) and ``rougeL_f1`` (MUSE).

    Each item is ``RougeScorer(["rouge1", "rougeL"], use_stemmer=True).score(gt, gen)``.
    Source: OU ``eval_rouge_recall`` (TOFU recall, MUSE F1); SPEC 6.1, 6.8.
    """
    _check_pairs(predictions, references)
    out: dict[str, list[float]] = {"rouge1_recall": [], "rougeL_recall": [], "rougeL_f1": []}
    for prediction, reference in zip(predictions, references):
        score = _scorer().score(reference, prediction)
        out["rouge1_recall"].append(float(score["rouge1"].recall))
        out["rougeL_recall"].append(float(score["rougeL"].recall))
        out["rougeL_f1"].append(float(score["rougeL"].fmeasure))
    return out


def _pltrdy_sentences(text: str) -> list[list[str]]:
    """pltrdy ``Rouge._get_scores`` splitting: "." sentences (empties dropped), whitespace
    collapsed, words = ``split(" ")`` (case and attached punctuation kept)."""
    return [" ".join(part.split()).split(" ") for part in text.split(".") if part]


def _lcs_words(ref: list[str], hyp: list[str]) -> set[str]:
    """Distinct reference words on the LCS that pltrdy's ``_recon_lcs`` reconstructs.

    Same DP table and the same tie-break (step up only when ``T[i-1][j] > T[i][j-1]``,
    otherwise left), iterative instead of recursive.
    """
    table = [[0] * (len(hyp) + 1) for _ in range(len(ref) + 1)]
    for i, r in enumerate(ref, 1):
        for j, h in enumerate(hyp, 1):
            table[i][j] = (
                table[i - 1][j - 1] + 1 if r == h else max(table[i - 1][j], table[i][j - 1])
            )
    words: set[str] = set()
    i, j = len(ref), len(hyp)
    while i > 0 and j > 0:
        if ref[i - 1] == hyp[j - 1]:
            words.add(ref[i - 1])
            i, j = i - 1, j - 1
        elif table[i - 1][j] > table[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return words


def rwku_rouge_l_recall(predictions: Sequence[str], references: Sequence[str]) -> list[float]:
    """Per-item RWKU ROUGE-L recall, reproducing pltrdy ``rouge==1.0.1``.

    ``Rouge().get_scores(hyps, refs, avg=True)["rouge-l"]["r"]`` is the mean of these values.
    Summary-level union LCS with unique-word counting (``rouge_l_summary_level``, exclusive):
    R = |∪_{ref sentence r} ∪_{hyp sentence c} set(LCS(r, c))| / |set(words of ref)|,
    sentences split on ".", words on " ", case-sensitive, no stemming (unlike ``rouge_score``).
    Difference from pltrdy: an empty or "."-only hypothesis scores 0 instead of raising
    ``ValueError`` (SPEC 8 #32). An empty reference raises ``ObliviateError``.
    Source: RWKU ``eval_forget.py`` / ``eval_neighbor.py``; SPEC 6.3.
    """
    _check_pairs(predictions, references)
    scores: list[float] = []
    for index, (prediction, reference) in enumerate(zip(predictions, references)):
        ref_sentences = _pltrdy_sentences(reference)
        if not ref_sentences:
            raise ObliviateError(f"RWKU ROUGE: reference {index} is empty: {reference!r}")
        hyp_sentences = _pltrdy_sentences(prediction)
        if not hyp_sentences:
            scores.append(0.0)
            continue
        ref_vocab = {word for sentence in ref_sentences for word in sentence}
        union: set[str] = set()
        for ref_sentence in ref_sentences:
            for hyp_sentence in hyp_sentences:
                union |= _lcs_words(ref_sentence, hyp_sentence)
        scores.append(len(union) / len(ref_vocab))
    return scores
