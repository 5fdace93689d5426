"""Linguistic quality of generations: ReLearn's linguistic score and RWKU's fluency entropy.

ReLearn (SPEC 6.6; zjunlp/unlearn ``evals/evaluate.py``), per response, over lowercased word
tokens (N tokens, V types, V₁ hapaxes):

- PPL = exp(mean NLL of the response given the query) under a scorer model (ReLearn: the original
  chat model); computed by the caller, averaged here (NaN skipped).
- Brunet's index BI = N^(V^−0.165) (1000 when N = 0).
- Honoré's statistic HS = min(100·ln N / (1 − V₁/V + 0.1), 1e6) (0 when N ≤ 1).
- RTTR = V / √N (0 when N = 0), reported as ``TTR`` by ReLearn.

Set level: average each over responses, transform the *means* (PPL' = 1/(1+PPL),
BI' = 1/(1+BI), HS' = HS/(1+HS), i.e. ReLearn's sigmoid(∓log x)) and combine:
LS = 3 / (1/PPL' + 1/BI' + 1/HS') (harmonic; the arithmetic mean is also reported).

RWKU fluency (SPEC 6.3; RWKU ``eval_fluency``): per output ½·Σ_{n∈{2,3}} w_n·H_n with
w = (2/3, 4/3) and H_n the entropy in bits of the output's word n-gram frequencies (case kept);
the set value is the mean over outputs (RWKU's table shows it ×100).

Word tokenizer: both peers call NLTK ``word_tokenize`` (RWKU pins ``nltk==3.8.1``, its
``requirements.txt``; ReLearn does not pin it), and so does :func:`word_tokenize`, with NLTK
3.8.1 itself (the ``nltk`` pin in ``pyproject.toml``): ``NLTKWordTokenizer`` on each sentence of
a Punkt sentence splitter. ``word_tokenize`` needs NLTK's trained English Punkt model
(``tokenizers/punkt``, a separate data download that nothing here can fetch); where that model is
installed it is used (the result is then ``nltk.word_tokenize``'s exactly, ``PUNKT == "english"``),
otherwise NLTK's untrained ``PunktSentenceTokenizer()`` splits the sentences
(``PUNKT == "untrained"``). Known difference of the untrained splitter: it knows no abbreviation
("Dr. Smith" ends a sentence after "Dr.", so that "." is split off as a token), no collocation
and no frequent sentence starter; initials ("J. K. Rowling"), ellipses, numbers and closing
quotes / brackets are handled by Punkt's own rules as in the trained model.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from obliviate.errors import ObliviateError


# ---- NLTK word_tokenize (nltk 3.8.1: punkt sentences, then NLTKWordTokenizer) ---------------
# nltk is imported on first use: its package import takes seconds (it imports scikit-learn)
@functools.lru_cache(maxsize=1)
def _word_tokenizer() -> Any:
    from nltk.tokenize.destructive import NLTKWordTokenizer

    return NLTKWordTokenizer()


@functools.lru_cache(maxsize=1)
def _sentence_splitter() -> tuple[str, Any]:
    """NLTK's trained English Punkt model when installed, else the untrained Punkt splitter."""
    import nltk
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    try:
        nltk.data.find("tokenizers/punkt/english.pickle")
    except LookupError:
        return "untrained", PunktSentenceTokenizer()
    return "english", nltk.data.load("tokenizers/punkt/english.pickle")


def punkt_model() -> str:
    """Which Punkt splitter :func:`word_tokenize` uses: ``english`` (trained) or ``untrained``."""
    return _sentence_splitter()[0]


def word_tokenize(text: str) -> list[str]:
    """NLTK 3.8.1 ``word_tokenize``: Punkt sentences, then ``NLTKWordTokenizer`` on each (see
    the module docstring for the splitter used when NLTK's Punkt data is not installed)."""
    sentences = _sentence_splitter()[1].tokenize(text)
    words = _word_tokenizer()
    return [tok for sent in sentences for tok in words.tokenize(sent)]


# ---- ReLearn lexical statistics ------------------------------------------------------------
def _lower_tokens(text: str) -> list[str]:
    return word_tokenize(text.lower())


def brunet_index(text: str) -> float:
    """Brunet's index BI = N^(V^−0.165) over lowercased word tokens; 1000 when N = 0.

    Lower = richer vocabulary. Source: ReLearn ``calculate_BI``; SPEC 6.6.
    """
    tokens = _lower_tokens(text)
    if not tokens:
        return 1000.0
    return float(len(tokens) ** (len(set(tokens)) ** -0.165))


def honore_statistic(text: str, max_value: float = 1e6, epsilon: float = 0.1) -> float:
    """Honoré's statistic HS = min(100·ln N / (1 − V₁/V + 0.1), 1e6); 0 when N ≤ 1.

    V₁ = words seen once. Higher = richer vocabulary. Source: ReLearn
    ``calculate_honores_statistic``; SPEC 6.6.
    """
    tokens = _lower_tokens(text)
    if len(tokens) <= 1:
        return 0.0
    counts = Counter(tokens)
    hapaxes = sum(1 for c in counts.values() if c == 1)
    hs = 100.0 * math.log(len(tokens)) / (1.0 - hapaxes / len(counts) + epsilon)
    return float(min(hs, max_value))


def rttr(text: str) -> float:
    """Root type-token ratio V / √N over lowercased word tokens; 0 when N = 0.

    Source: ReLearn ``calculate_rttr`` (reported as ``TTR_F``/``TTR_R``); SPEC 7.
    """
    tokens = _lower_tokens(text)
    return len(set(tokens)) / math.sqrt(len(tokens)) if tokens else 0.0


def _finite_mean(values: Sequence[float]) -> float:
    """Mean of the finite values other than −1 (ReLearn's failure marker); NaN if none."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    arr = arr[np.isfinite(arr) & (arr != -1)]
    return float(arr.mean()) if arr.size else math.nan


def linguistic_score(ppl: float, bi: float, hs: float) -> dict[str, float]:
    """Combine the set means: PPL' = 1/(1+PPL), BI' = 1/(1+BI), HS' = HS/(1+HS);
    ``harmonic`` = 3/(1/PPL' + 1/BI' + 1/HS'), ``arithmetic`` = (PPL' + BI' + HS')/3.

    Source: ReLearn ``as_mean`` (sigmoid(−log PPL), sigmoid(−log BI), sigmoid(log HS));
    SPEC 6.6. HS = 0 (every response one word or empty) gives HS' = 0 and LS = 0.
    """
    parts = (1.0 / (1.0 + ppl), 1.0 / (1.0 + bi), hs / (1.0 + hs))
    if any(math.isnan(p) for p in parts):
        harmonic = math.nan
    else:
        harmonic = 0.0 if min(parts) <= 0 else 3.0 / sum(1.0 / p for p in parts)
    return {"harmonic": harmonic, "arithmetic": sum(parts) / 3.0}


def linguistic_summary(responses: Sequence[str], ppls: Sequence[float]) -> dict[str, float]:
    """Set-level ReLearn statistics: mean PPL (``linguistic_ppl``; NaN and −1 skipped), mean BI,
    HS, RTTR, and LS.

    ``ppls[i]`` is the scorer model's perplexity of ``responses[i]`` given its query (NaN for
    an empty response); with no finite perplexity the PPL and LS are NaN.
    Source: ReLearn ``compute_as`` + ``as_mean``; SPEC 6.6.
    """
    if len(responses) != len(ppls) or not responses:
        raise ObliviateError(
            f"linguistic_summary needs one perplexity per response; got {len(responses)} "
            f"responses and {len(ppls)} perplexities"
        )
    ppl = _finite_mean(ppls)
    bi = float(np.mean([brunet_index(r) for r in responses]))
    hs = float(np.mean([honore_statistic(r) for r in responses]))
    ls = linguistic_score(ppl, bi, hs)
    return {
        "linguistic_ppl": ppl,
        "brunet_index": bi,
        "honore_statistic": hs,
        "rttr": float(np.mean([rttr(r) for r in responses])),
        "linguistic_score": ls["harmonic"],
        "linguistic_score_arithmetic": ls["arithmetic"],
    }


# ---- RWKU fluency -----------------------------------------------------------------------
def _ngram_entropy_bits(tokens: list[str], n: int) -> float:
    counts = Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    if not counts:
        return 0.0
    freqs = np.asarray(list(counts.values()), dtype=np.float64)
    freqs /= freqs.sum()
    return float(-(freqs * np.log2(freqs)).sum())


def fluency_entropy(text: str) -> float:
    """RWKU fluency of one output = mean_n w_n·H_n, n ∈ {2, 3}, w = (2/3, 4/3), H in bits.

    Word tokens keep their case (RWKU ``compute_freq`` = ``nltk.word_tokenize``, no lowering);
    an output with fewer than n tokens has H_n = 0. Source: RWKU ``eval_fluency``
    ``compute_n_gram_entropy``; SPEC 6.3.
    """
    tokens = word_tokenize(text)
    return float(np.mean([w * _ngram_entropy_bits(tokens, n) for n, w in ((2, 2 / 3), (3, 4 / 3))]))
