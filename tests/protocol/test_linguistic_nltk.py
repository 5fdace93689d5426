"""Linguistic diversity (issue 19 item 7): word tokens, RWKU fluency entropy and ReLearn's Brunet /
Honoré statistics against NLTK 3.8.1 itself.

Golden values: a fixture generator outside the repository ran NLTK 3.8.1 (RWKU's pin,
jinzhuoran/RWKU ``requirements.txt`` @ b8a03b3ce34fb4a96001df545a56558d75a078a3) on these texts
and transcriptions of RWKU ``LLaMA-Factory/src/llmtuner/eval/eval_fluency.py``
(``compute_n_gram_entropy``, ``compute_freq``; same commit) and ReLearn ``evals/evaluate.py``
(``calculate_BI``, ``calculate_honores_statistic``; zjunlp/unlearn @
0800fd24f071a47958295fb1804906365567695c). NLTK's trained Punkt data cannot be fetched here, so
the generator's ``word_tokenize`` is NLTK 3.8.1's with its untrained ``PunktSentenceTokenizer``
(what obliviate uses without that data). The first, second and fourth texts were tokenized
differently by the hand-written tokenizer this replaces (initials, curly quotes, a bracketed
sentence).
"""

from __future__ import annotations

import nltk
import pytest

from obliviate.eval.metrics.linguistic import (
    brunet_index,
    fluency_entropy,
    honore_statistic,
    punkt_model,
    word_tokenize,
)

# text, NLTK tokens, RWKU fluency entropy, ReLearn BI, ReLearn HS
GOLDEN = [
    (
        "J. K. Rowling wrote the books. She lives in Edinburgh.",
        [
            "J.",
            "K.",
            "Rowling",
            "wrote",
            "the",
            "books",
            ".",
            "She",
            "lives",
            "in",
            "Edinburgh",
            ".",
        ],
        3.367762602804007,
        5.327806908550733,
        1301.6177689365713,
    ),
    (
        "She said “yes.” Then she left. She said “no.”",
        [
            "She",
            "said",
            "“",
            "yes.",
            "”",
            "Then",
            "she",
            "left",
            ".",
            "She",
            "said",
            "“",
            "no",
            ".",
            "”",
        ],
        3.5382759216443986,
        6.58336360818603,
        413.09240355796425,
    ),
    (
        "Wait... what? No! It was the dog. The dog. The dog.",
        [
            "Wait",
            "...",
            "what",
            "?",
            "No",
            "!",
            "It",
            "was",
            "the",
            "dog",
            ".",
            "The",
            "dog",
            ".",
            "The",
            "dog",
            ".",
        ],
        3.4888669074439402,
        6.735781576790997,
        760.130409380936,
    ),
    (
        "He was born in 1965. (He moved later.) The end.",
        [
            "He",
            "was",
            "born",
            "in",
            "1965",
            ".",
            "(",
            "He",
            "moved",
            "later",
            ".",
            ")",
            "The",
            "end",
            ".",
        ],
        3.7360781194465966,
        6.0326171933781945,
        1015.518825413329,
    ),
    (
        "It cost $3.50 in the shop. Really. It cost $3.50 again.",
        [
            "It",
            "cost",
            "$",
            "3.50",
            "in",
            "the",
            "shop",
            ".",
            "Really",
            ".",
            "It",
            "cost",
            "$",
            "3.50",
            "again",
            ".",
        ],
        3.516723956098385,
        6.660574354584019,
        462.0981203732969,
    ),
    (
        "The answer is 42.And that is it.",
        ["The", "answer", "is", "42.And", "that", "is", "it", "."],
        2.6590933078333054,
        4.519321394701961,
        856.240634809344,
    ),
    (
        "Basil Mahfouz Al-Kuwaiti was born in Kuwait City, Kuwait. He writes French literature.",
        [
            "Basil",
            "Mahfouz",
            "Al-Kuwaiti",
            "was",
            "born",
            "in",
            "Kuwait",
            "City",
            ",",
            "Kuwait",
            ".",
            "He",
            "writes",
            "French",
            "literature",
            ".",
        ],
        3.8405334799079096,
        6.012263303347527,
        1141.6541797457921,
    ),
]


def test_nltk_is_rwku_pin() -> None:
    assert nltk.__version__ == "3.8.1"


@pytest.mark.parametrize(("text", "tokens", "flu", "bi", "hs"), GOLDEN)
def test_matches_nltk_381(text: str, tokens: list[str], flu: float, bi: float, hs: float) -> None:
    if punkt_model() != "untrained":
        pytest.skip("NLTK's trained Punkt data is installed; the golden values are untrained")
    assert word_tokenize(text) == tokens
    assert fluency_entropy(text) == pytest.approx(flu, abs=1e-12)
    assert brunet_index(text) == pytest.approx(bi, rel=1e-12)
    assert honore_statistic(text) == pytest.approx(hs, rel=1e-12)
