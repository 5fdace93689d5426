"""MUSE's metrics (Shi et al. 2024, "MUSE: Machine Unlearning Six-Way Evaluation"; code
swj0419/muse_bench): VerbMem, KnowMem and PrivLeak, as pure functions.

- ROUGE: ``RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=False)
  .score(gt, output)`` (``metrics/logger.py`` l. 10-13, 18): MUSE does **not** stem, unlike
  TOFU's scorer (``metrics.rouge``), so the two give different numbers on inflected words.
- VerbMem: the reference is the ground truth cut to its first ``max_new_tokens`` ids of
  ``tokenizer(gt, add_special_tokens=True)`` (BOS included, so 127 text tokens for Llama-2),
  decoded with special tokens skipped (``metrics/verbmem.py`` l. 22, 31-38); score = ROUGE-L F1
  (``eval.py`` l. 65: ``mean_rougeL`` = the F-measure), ×100.
- KnowMem: the output is cut before the first ``"\\n\\n"``, then ``"\\nQuestion"``, then
  ``"Question:"`` (``metrics/knowmem.py`` l. 7-9, 50); MUSE's ``eval.py`` (l. 95) reports mean
  ROUGE-L F1 ×100, open-unlearning (and this project's headline) mean ROUGE-L recall ×100;
  both are computed.
- PrivLeak: Min-40% per text = −mean of the ``int(0.4·N)`` smallest token log-probs over the N
  tokens after BOS (``metrics/privleak.py`` l. 13-28, 43-46); AUC = ``roc_curve(y, −score)``
  with the forget texts as y = 0 and the holdout texts as y = 1 (key
  ``forget_holdout_Min-40%``, l. 81-90), i.e. P(s_forget > s_holdout) + ½ P(tie) (≈ 0 for a
  model that memorised the forget set); PrivLeak = (AUC − AUC_retrain) / AUC_retrain × 100
  (``eval.py`` l. 78), AUC_retrain from ``constants.py`` (l. 62, 163) unless the retain model
  is evaluated. Unlike MUSE, ``int(0.4·N) = 0`` takes one token instead of returning NaN.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from obliviate.errors import ObliviateError
from obliviate.eval.metrics import mia

if TYPE_CHECKING:
    from rouge_score.rouge_scorer import RougeScorer

VERBMEM_NEW_TOKENS = 128  # eval.py l. 20
KNOWMEM_NEW_TOKENS = 32  # eval.py l. 22
KNOWMEM_STOPS = ("\n\n", "\nQuestion", "Question:")  # metrics/knowmem.py l. 50
MIN_K = 0.4  # eval.py l. 18: privleak_auc_key 'forget_holdout_Min-40%'


@functools.cache
def _scorer() -> RougeScorer:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(reference: str, output: str) -> tuple[float, float]:
    """(ROUGE-L F1, ROUGE-L recall) of ``output`` against ``reference``, unstemmed (MUSE)."""
    score = _scorer().score(reference, output)["rougeL"]
    return float(score.fmeasure), float(score.recall)


def knowmem_cut(output: str) -> str:
    """The output before the first of "\\n\\n", "\\nQuestion", "Question:" (applied in order)."""
    for word in KNOWMEM_STOPS:
        output = output.split(word)[0]
    return output


def truncated_reference(tokenizer, gt: str, max_new_tokens: int = VERBMEM_NEW_TOKENS) -> str:
    """VerbMem's reference: ``decode(tokenizer(gt, add_special_tokens=True)[:max_new_tokens])``
    with special tokens skipped (a BOS, when the tokenizer adds one, takes one of the slots)."""
    ids = list(tokenizer(gt, add_special_tokens=False)["input_ids"])
    bos = tokenizer.bos_token_id
    if bos is not None and _adds_bos(tokenizer):
        ids = [bos, *ids]
    # MUSE also passes clean_up_tokenization_spaces=True (to the output too); transformers 5
    # ignores it for BPE tokenizers such as Llama-2's, and the generations here are decoded
    # without it, so neither side is cleaned
    return tokenizer.decode(ids[:max_new_tokens], skip_special_tokens=True)


def _adds_bos(tokenizer) -> bool:
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return bool(ids) and ids[0] == tokenizer.bos_token_id


def min_k(logprobs: ArrayLike, k: float = MIN_K) -> float:
    """MUSE Min-K% = −mean of the int(k·N) smallest log p(x_t) over the N tokens after BOS
    (loss-like: higher = less likely a member); at least one token."""
    return -mia.rwku_min_k(logprobs, k)


def auc(forget_scores: ArrayLike, holdout_scores: ArrayLike) -> float:
    """MUSE's ``forget_holdout`` AUC = P(s_forget > s_holdout) + ½ P(s_forget = s_holdout)
    (sklearn ``auc(roc_curve([0]*F + [1]*H, −scores))``)."""
    return mia.auc(holdout_scores, forget_scores)


def privleak(auc_value: float, auc_retrain: float) -> float:
    """PrivLeak = (AUC − AUC_retrain) / AUC_retrain × 100 (MUSE ``eval.py`` l. 78; no epsilon).

    ≈ −100 for a model that memorised the forget set (News target: −99.8), 0 for the
    retrained model, > 0 when the forget set looks less familiar than unseen text."""
    if auc_retrain <= 0:
        raise ObliviateError(f"MUSE privleak: AUC_retrain must be > 0; got {auc_retrain}")
    return (auc_value - auc_retrain) / auc_retrain * 100.0


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ObliviateError("MUSE: a mean over no items")
    return float(np.mean(values))
