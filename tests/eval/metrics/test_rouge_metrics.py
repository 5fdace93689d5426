"""ROUGE: rouge_score (TOFU / MUSE) and the pltrdy rouge==1.0.1 reproduction (RWKU)."""

from __future__ import annotations

import pytest

from obliviate.errors import ObliviateError
from obliviate.eval.metrics.rouge import rouge_l_recall, rouge_scores, rwku_rouge_l_recall

REF = "Paris is the capital of France. It is big."


def test_rouge_l_recall_uses_target_first() -> None:
    # LCS("the cat", gt) = 2 tokens, gt has 6 -> recall 2/6 (swapped arguments would give 1.0).
    assert rouge_l_recall("the cat", "the cat sat on the mat") == pytest.approx(2 / 6, abs=1e-6)


def test_rouge_l_recall_lowercases_strips_and_stems() -> None:
    # gen tokens: paris is the capit; gt tokens: paris is the capit of franc it is big (9).
    assert rouge_l_recall("paris is the Capital.", REF) == pytest.approx(4 / 9, abs=1e-6)


def test_rouge_scores_per_item() -> None:
    scores = rouge_scores(["the the", "the cat"], ["the cat the dog", "the cat sat on the mat"])
    # item 0: unigram overlap min(2,2) "the" = 2 of 4 gt tokens; LCS "the the" = 2 of 4;
    # precision 2/2 = 1, F1 = 2 * 0.5 * 1 / 1.5.
    assert scores["rouge1_recall"] == pytest.approx([0.5, 2 / 6], abs=1e-6)
    assert scores["rougeL_recall"] == pytest.approx([0.5, 2 / 6], abs=1e-6)
    # item 1: P = 2/2, R = 2/6, F1 = 2 * 1 * (1/3) / (4/3) = 0.5.
    assert scores["rougeL_f1"] == pytest.approx([2 * 0.5 / 1.5, 0.5], abs=1e-6)


def test_rouge_scores_length_mismatch() -> None:
    with pytest.raises(ObliviateError, match="one reference per prediction"):
        rouge_scores(["a"], ["a", "b"])


def test_rwku_case_and_punctuation_multi_sentence() -> None:
    # pltrdy: ref sentences "Paris is the capital of France" | "It is big";
    # unique ref words {Paris, is, the, capital, of, France, It, big} = 8.
    # hyp sentences "paris, is the Capital" | "it is big" (case-sensitive, "paris," kept).
    # LCS(r1, h1) = "is the", LCS(r1, h2) = "is", LCS(r2, h1) = "is", LCS(r2, h2) = "is big".
    # union {is, the, big} = 3 -> 3/8. rouge_score instead: 7 of 9 normalised tokens.
    hyp = "paris, is the Capital. it is big"
    assert rwku_rouge_l_recall([hyp], [REF]) == pytest.approx([3 / 8], abs=1e-6)
    assert rouge_l_recall(hyp, REF) == pytest.approx(7 / 9, abs=1e-6)


def test_rwku_case_sensitive_single_sentence() -> None:
    # hyp "paris is the Capital": LCS with r1 = "is the", with r2 = "is" -> {is, the} = 2/8.
    assert rwku_rouge_l_recall(["paris is the Capital."], [REF]) == pytest.approx([0.25], abs=1e-6)


def test_rwku_counts_unique_words() -> None:
    # LCS("the cat the dog", "the the") = "the the" -> one unique word; ref vocab 3 -> 1/3
    # (rouge_score counts tokens: 2/4).
    assert rwku_rouge_l_recall(["the the"], ["the cat the dog"]) == pytest.approx([1 / 3], abs=1e-6)


def test_rwku_lcs_tie_break_matches_pltrdy() -> None:
    # ref "a a b c", hyp "b c a a": both "a a" and "b c" are LCSs of length 2. pltrdy walks
    # back from (4, 4) and moves left unless up is strictly larger: it reconstructs "b c",
    # two unique words of {a, b, c} -> 2/3 (the other choice would give 1/3).
    assert rwku_rouge_l_recall(["b c a a"], ["a a b c"]) == pytest.approx([2 / 3], abs=1e-6)


def test_rwku_union_across_hypothesis_sentences() -> None:
    # ref "a b c d" vs hyp sentences "a b" and "c d": union {a, b} | {c, d} = 4/4.
    assert rwku_rouge_l_recall(["a b. c d"], ["a b c d"]) == pytest.approx([1.0], abs=1e-6)


def test_rwku_empty_or_dot_hypothesis_scores_zero() -> None:
    # pltrdy raises ValueError("Hypothesis is empty.") for these; RWKU's "NOANSWER" stays a word.
    assert rwku_rouge_l_recall([".", "", "...", "NOANSWER"], [REF] * 4) == [0.0, 0.0, 0.0, 0.0]


def test_rwku_empty_reference_raises() -> None:
    with pytest.raises(ObliviateError, match="reference 0 is empty"):
        rwku_rouge_l_recall(["x"], ["."])


def test_rwku_length_mismatch_raises() -> None:
    with pytest.raises(ObliviateError, match="one reference per prediction"):
        rwku_rouge_l_recall(["a", "b"], ["a"])
