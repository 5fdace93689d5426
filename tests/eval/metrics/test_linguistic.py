"""ReLearn linguistic statistics and RWKU fluency entropy against hand computations."""

from __future__ import annotations

import math

import pytest

from obliviate.eval.metrics.linguistic import (
    brunet_index,
    fluency_entropy,
    honore_statistic,
    linguistic_score,
    linguistic_summary,
    rttr,
    word_tokenize,
)

TEXT = "The cat saw the dog."  # lowered tokens: the cat saw the dog .  (N 6, V 5, V1 4)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("The cat saw the dog.", ["The", "cat", "saw", "the", "dog", "."]),
        ("I don't know, really!", ["I", "do", "n't", "know", ",", "really", "!"]),
        (
            "Mara's e-mail is mara.kolb@lumen.org.",
            ["Mara", "'s", "e-mail", "is", "mara.kolb", "@", "lumen.org", "."],
        ),
        ('He said "hi" (twice).', ["He", "said", "``", "hi", "''", "(", "twice", ")", "."]),
        (
            "It cost 1,000 dollars. We cannot pay.",
            ["It", "cost", "1,000", "dollars", ".", "We", "can", "not", "pay", "."],
        ),  # fmt: skip
        ("", []),
    ],
)
def test_word_tokenize_matches_nltk_outputs(text: str, tokens: list[str]) -> None:
    # expected values are NLTK 3.9 word_tokenize outputs for these strings
    assert word_tokenize(text) == tokens


def test_brunet_index() -> None:
    # N = 6, V = 5: BI = 6 ** (5 ** -0.165) = 6 ** 0.766798 = 3.9502
    assert brunet_index(TEXT) == pytest.approx(6 ** (5**-0.165))
    assert brunet_index(TEXT) == pytest.approx(3.9502, abs=1e-3)
    assert brunet_index("") == 1000.0


def test_honore_statistic() -> None:
    # 100 * ln 6 / (1 - 4/5 + 0.1) = 179.1759 / 0.3 = 597.253
    assert honore_statistic(TEXT) == pytest.approx(597.2532, abs=1e-3)
    assert honore_statistic("word") == 0.0  # N <= 1
    # every word repeated: V1 = 0 -> 100 ln 4 / 1.1; capped at 1e6 never reached here
    assert honore_statistic("a b a b") == pytest.approx(100 * math.log(4) / 1.1)


def test_rttr() -> None:
    assert rttr(TEXT) == pytest.approx(5 / math.sqrt(6))
    assert rttr("") == 0.0


def test_linguistic_score_combination() -> None:
    # PPL 3 -> 1/4; BI 1 -> 1/2; HS 1 -> 1/2: harmonic 3 / (4 + 2 + 2) = 0.375, mean 5/12
    ls = linguistic_score(3.0, 1.0, 1.0)
    assert ls["harmonic"] == pytest.approx(0.375)
    assert ls["arithmetic"] == pytest.approx(5 / 12)
    assert linguistic_score(3.0, 1.0, 0.0)["harmonic"] == 0.0


def test_linguistic_summary_skips_nan_perplexity() -> None:
    out = linguistic_summary([TEXT, "a b a b"], [2.0, float("nan")])
    assert out["linguistic_ppl"] == 2.0
    bi = (6 ** (5**-0.165) + 4 ** (2**-0.165)) / 2
    hs = (100 * math.log(6) / 0.3 + 100 * math.log(4) / 1.1) / 2
    assert out["brunet_index"] == pytest.approx(bi)
    assert out["honore_statistic"] == pytest.approx(hs)
    expected = 3 / ((1 + 2.0) + (1 + bi) + (1 + hs) / hs)
    assert out["linguistic_score"] == pytest.approx(expected)
    assert math.isnan(linguistic_summary(["x"], [float("nan")])["linguistic_ppl"])


def test_fluency_entropy() -> None:
    # tokens a b a b: bigrams ab, ba, ab -> H2 = -(2/3 log2 2/3 + 1/3 log2 1/3) = 0.918296;
    # trigrams aba, bab -> H3 = 1; fluency = (2/3 * 0.918296 + 4/3 * 1) / 2 = 0.972765
    assert fluency_entropy("a b a b") == pytest.approx(0.972765, abs=1e-6)
    assert fluency_entropy("one") == 0.0  # no bigram, no trigram
