"""MEOW inverted facts and their MEMO-based selection (SPEC 5.2, 3.2; Gu et al. 2024, "MEOW:
MEMOry Supervised LLM Unlearning Via Inverted Facts", Carol-gutianle/MEOW ``data/invert.py``).

Generation: for each forget (q, a) an LLM is asked for ``n`` answers that do not factually
match ``a``, one per line (MEOW: gpt-4-1106-preview, temperature 0.9, max_tokens 512, n = 4).
Lines are cleaned: numbering and bullets stripped; empty lines, chatter ("Sure! Here are...",
lines ending with ":"), duplicates and copies of the original answer dropped. Each candidate and
the original answer are then scored with MEMO (:mod:`obliviate.eval.memo`) under the model to
be unlearned; a row holds ``candidates``, ``candidate_memo`` and ``answer_memo``.

Selection (training time, :func:`select_top_k`): per question the top-k candidates by MEMO,
``largest`` (MEOW's scripts, k = 3), ``smallest`` (its dataset default) or ``random`` (seeded).
Ranking is by index with the index as tie-break, so equal scores never collapse two candidates
into one (the peer keyed a dict by score, SPEC 8 #38); a missing score is an error, never a
fallback to answer_0. A question with fewer than k candidates contributes what it has.
``meow_dpo`` pairs each selected candidate with the row's original answer
(:func:`meow_preference_pairs`).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from typing import Any

from ..errors import ObliviateError
from ..generation.backend import Backend, Conversation
from ..generation.sampling import Sampling
from ..records import QAItem

RANKINGS = ("largest", "smallest", "random")
INVERT_SYSTEM = (
    "Write {n} answers to the Question that do not factually match the given Answer. Put each "
    "answer on its own line, with no numbering and no other markers."
)
_MARKER = re.compile(r"^\s*(?:[-*\u2022]+|\(?\d+[.):]|answer\s*\d*\s*[:.)-])\s*", re.IGNORECASE)
_CHATTER = re.compile(r"^(?:sure|certainly|of course|okay|ok|here (?:are|is))\b|:\s*$", re.I)


def invert_messages(question: str, answer: str, n: int = 4) -> Conversation:
    return [
        {"role": "system", "content": INVERT_SYSTEM.format(n=n)},
        {"role": "user", "content": f"Question: {question} Answer: {answer}"},
    ]


def parse_candidates(text: str, answer: str, n: int = 4) -> list[str]:
    """Up to ``n`` cleaned candidate lines of a reply (see the module docstring)."""
    out: list[str] = []
    for line in text.splitlines():
        line = _MARKER.sub("", line).strip().strip('"').strip()
        if not line or _CHATTER.search(line) or line.lower() == answer.strip().lower():
            continue
        if line not in out:
            out.append(line)
    return out[:n]


def llm_candidates(
    backend: Backend, items: Sequence[QAItem], n: int, sampling: Sampling
) -> list[list[str]]:
    convs = [invert_messages(it.question, it.answer, n) for it in items]
    replies = backend.chat_many(convs, sampling)
    return [parse_candidates(r[0], it.answer, n) for r, it in zip(replies, items)]


def memo_rows(
    items: Sequence[QAItem], candidates: Sequence[Sequence[str]], memo: Any
) -> list[dict[str, Any]]:
    """Rows with MEMO of the original answer and every candidate; ``memo(pairs) -> scores``."""
    pairs = [(it.question, a) for it, cands in zip(items, candidates) for a in (it.answer, *cands)]
    scores = iter(memo(pairs))
    rows = []
    for it, cands in zip(items, candidates):
        answer_memo = next(scores)
        rows.append({"question": it.question, "answer": it.answer, "subject": it.subject,
                     "candidates": list(cands), "answer_memo": answer_memo,
                     "candidate_memo": [next(scores) for _ in cands]})  # fmt: skip
    return rows


def select_top_k(
    scores: Sequence[float | None], k: int, ranking: str, rng: random.Random
) -> list[int]:
    """Indices of the ``k`` selected candidates (ties broken by index, never merged)."""
    if ranking not in RANKINGS:
        raise ObliviateError(f"unlearn.params.ranking={ranking!r}; accepted: {', '.join(RANKINGS)}")
    if k < 1:
        raise ObliviateError(f"unlearn.params.k={k}; accepted: k >= 1")
    bad = [i for i, s in enumerate(scores) if s is None or math.isnan(s)]
    if bad:
        raise ObliviateError(f"MEOW selection: candidate {bad[0]} has no MEMO score")
    n = len(scores)
    if ranking == "random":
        return rng.sample(range(n), min(k, n))
    sign = -1.0 if ranking == "largest" else 1.0
    return sorted(range(n), key=lambda i: (sign * scores[i], i))[:k]  # type: ignore[operator]


def _selected(
    rows: Sequence[dict[str, Any]], k: int, ranking: str, seed: int
) -> list[tuple[dict[str, Any], str]]:
    """(row, inverted answer) for the top-k candidates of every row."""
    rng = random.Random(seed)
    out: list[tuple[dict[str, Any], str]] = []
    for n_row, row in enumerate(rows):
        cands, scores = row["candidates"], row.get("candidate_memo")
        if scores is None or len(scores) != len(cands):
            raise ObliviateError(
                f"MEOW data row {n_row} ({row['question']!r}): {len(cands)} candidates but "
                f"{'no' if scores is None else len(scores)} MEMO scores; regenerate it "
                "(obliviate invert)"
            )
        out += [(row, cands[i]) for i in select_top_k(scores, k, ranking, rng)]
    if not out:
        raise ObliviateError("MEOW: no inverted answer was generated for any forget question")
    return out


def meow_selection(
    rows: Sequence[dict[str, Any]], k: int = 3, ranking: str = "largest", seed: int = 42
) -> list[tuple[str, str]]:
    """(question, inverted answer) training pairs: the top-k candidates of every row."""
    return [(row["question"], inv) for row, inv in _selected(rows, k, ranking, seed)]


def meow_preference_pairs(
    rows: Sequence[dict[str, Any]], k: int = 3, ranking: str = "largest", seed: int = 42
) -> list[tuple[str, str, str]]:
    """``meow_dpo`` data: (question, selected inverted answer ≻ original answer), one triple per
    selected candidate (the same selection as :func:`meow_selection`)."""
    return [(row["question"], inv, row["answer"]) for row, inv in _selected(rows, k, ranking, seed)]
