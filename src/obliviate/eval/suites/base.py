"""What every suite shares: the per-set scoring + generation pass over QA items.

For a QA eval set, one teacher-forced scoring call covers, flattened into one list, every
item's answer, paraphrased answer and perturbed answers; one batched generation call covers
every question. Every metric is then computed from those two results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ...formatting import Formatter
from ...records import QAItem
from ..generation import generate
from ..metrics import rouge, tofu
from ..metrics.knowundo import token_accuracy
from ..scoring import ItemStats, score


@dataclass
class SetResult:
    """Per-item rows (for JSONL) and per-set aggregate metrics of one eval set on one model."""

    metrics: dict[str, float] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EvalContext:
    model: torch.nn.Module
    tokenizer: Any
    formatter: Formatter
    batch_size: int = 32
    max_new_tokens: int = 32
    device: torch.device | str = "cpu"
    prefix: Callable[[Any], str] | None = None  # per-record prompt prefix (in-context unlearning)

    def prefix_of(self, record: Any) -> str:
        return self.prefix(record) if self.prefix is not None else ""


def evaluate_qa_set(
    records: Sequence[QAItem], ctx: EvalContext, tr_aggregate: str, generate_answers: bool = True
) -> SetResult:
    """TOFU-style metrics of a QA set: ROUGE-L recall, prob, normalised prob, truth ratio,
    token accuracy (SPEC 6.1, 6.2).

    ``tr_aggregate``: ``closer_to_1`` (forget sets) or ``true_better`` (retain-type sets).
    Truth ratio uses the paraphrased answer as the correct one when present (TOFU forget and
    retain), else the answer (TOFU real authors / world facts).
    """
    fmt = ctx.formatter
    encoded, spans = [], []
    for rec in records:
        start, pre = len(encoded), ctx.prefix_of(rec)
        encoded.append(fmt.encode_pair(rec.question, rec.answer, pre))
        para = rec.paraphrased_answer
        if para:
            encoded.append(fmt.encode_pair(rec.question, para, pre))
        encoded.extend(fmt.encode_pair(rec.question, a, pre) for a in rec.perturbed_answers)
        spans.append((start, bool(para), len(rec.perturbed_answers)))
    stats = score(ctx.model, encoded, fmt.pad_id, ctx.batch_size, ctx.device)
    generations: list[str] = []
    if generate_answers:
        prompts = [fmt.prompt_ids(r.question, ctx.prefix_of(r)) for r in records]
        generations = generate(
            ctx.model, ctx.tokenizer, prompts, ctx.batch_size, ctx.max_new_tokens, ctx.device
        )
    result = SetResult()
    probs, nprobs, trs, accs, rouges = [], [], [], [], []
    for i, (rec, (start, has_para, n_pert)) in enumerate(zip(records, spans)):
        answer: ItemStats = stats[start]
        correct = stats[start + 1] if has_para else answer
        perturbed = stats[start + 1 + int(has_para) : start + 1 + int(has_para) + n_pert]
        p = tofu.length_normalised_prob(answer.logprobs)
        row: dict[str, Any] = {
            "id": rec.id,
            "question": rec.question,
            "answer": rec.answer,
            "prob": p,
            "nll_mean": answer.nll_mean,
            "token_accuracy": token_accuracy(answer.correct),
        }
        probs.append(p)
        accs.append(row["token_accuracy"])
        if perturbed:
            p_pert = [tofu.length_normalised_prob(s.logprobs) for s in perturbed]
            row["normalised_prob"] = tofu.normalised_prob(p, p_pert)
            row["truth_ratio"] = tofu.truth_ratio(correct.nll_mean, [s.nll_mean for s in perturbed])
            nprobs.append(row["normalised_prob"])
            trs.append(row["truth_ratio"])
        if generate_answers:
            row["generation"] = generations[i]
            row["rouge_l_recall"] = rouge.rouge_l_recall(generations[i], rec.answer)
            rouges.append(row["rouge_l_recall"])
        result.items.append(row)
    m = result.metrics
    m["prob"] = float(np.mean(probs))
    m["token_accuracy"] = float(np.mean(accs))
    if rouges:
        m["rouge_l_recall"] = float(np.mean(rouges))
    if trs:
        m["normalised_prob"] = float(np.mean(nprobs))
        if tr_aggregate == "closer_to_1":
            m["truth_ratio"] = tofu.truth_ratio_closer_to_1(trs)
        else:
            m["truth_ratio"] = tofu.truth_ratio_true_better(trs)
    return result
