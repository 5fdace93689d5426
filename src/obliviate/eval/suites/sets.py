"""One eval set through the shared passes: a QA set (answer, paraphrase and perturbed answers
in one teacher-forced scoring call, one generation call) or a raw-text passage set.

For a QA eval set, one teacher-forced scoring call covers, flattened into one list, every
item's answer, paraphrased answer and perturbed answers (the latter two only when a metric needs
them); one batched generation call covers every question (only when a metric needs it). Every
metric of the registry is then computed from those two results (:mod:`.rows`); metrics with
passes of their own run only when asked for.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from ...records import Passage, QAItem
from ..metrics import mia, tofu
from ..metrics.knowundo import token_accuracy
from ..scoring import ItemStats, score
from .context import EvalContext, SetResult
from .plan import DEFAULT, DIST, GENERATION
from .rows import add_passage_extras, finish_set, generation_metrics, set_means, stats_metrics


def evaluate_qa_set(
    records: Sequence[QAItem],
    ctx: EvalContext,
    tr_aggregate: str,
    generate_answers: bool = True,
    metrics: Collection[str] | None = None,
) -> SetResult:
    """Metrics of a QA set (``metrics``: names from :mod:`.plan`; None = the foundation's
    defaults: ROUGE-L recall, prob, normalised prob, truth ratio, token accuracy, SPEC 6.1-6.2).

    ``tr_aggregate``: ``closer_to_1`` (forget-type sets: also where KFR applies) or
    ``true_better`` (retain-type sets: KRR). Truth ratio uses the paraphrased answer as the
    correct one when present (TOFU forget and retain), else the answer (TOFU real authors /
    world facts). ``generate_answers=False`` drops every generation-based metric.
    """
    want = frozenset(DEFAULT if metrics is None else metrics)
    if not generate_answers:
        want -= GENERATION
    fmt = ctx.formatter
    with_options = bool(want & {"normalised_prob", "truth_ratio"})
    encoded, spans = [], []
    for rec in records:
        start, pre = len(encoded), ctx.prefix_of(rec)
        encoded.append(fmt.encode_pair(rec.question, rec.answer, pre))
        para = rec.paraphrased_answer if with_options else None
        perturbed = rec.perturbed_answers if with_options else []
        if para:
            encoded.append(fmt.encode_pair(rec.question, para, pre))
        encoded.extend(fmt.encode_pair(rec.question, a, pre) for a in perturbed)
        spans.append((start, bool(para), len(perturbed)))
    dist = bool(want & DIST)
    stats = score(ctx.model, encoded, fmt.pad_id, ctx.batch_size, ctx.device, dist_stats=dist)
    generations: list[str] = []
    if want & GENERATION:
        generations = ctx.generate([fmt.prompt_ids(r.question, ctx.prefix_of(r)) for r in records])
    result = SetResult(wanted=want)
    trs = []
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
        if perturbed:
            p_pert = [tofu.length_normalised_prob(s.logprobs) for s in perturbed]
            row["normalised_prob"] = tofu.normalised_prob(p, p_pert)
            row["truth_ratio"] = tofu.truth_ratio(correct.nll_mean, [s.nll_mean for s in perturbed])
            trs.append(row["truth_ratio"])
        row |= stats_metrics(answer, rec.answer, want, ctx, labels=encoded[start].labels)
        if generations:
            row |= generation_metrics(generations[i], rec.answer, want)
        result.items.append(row)
    finish_set(result, records, ctx, want, generations, [encoded[s[0]] for s in spans],
               tr_aggregate == "closer_to_1")  # fmt: skip
    if trs and "truth_ratio" in want:
        if tr_aggregate == "closer_to_1":
            result.metrics["truth_ratio"] = tofu.truth_ratio_closer_to_1(trs)
        else:
            result.metrics["truth_ratio"] = tofu.truth_ratio_true_better(trs)
    return result


def evaluate_passage_set(
    records: Sequence[Passage], ctx: EvalContext, metrics: Collection[str]
) -> SetResult:
    """Raw-text sets (every token after BOS labelled, SPEC 1.3 ``raw-text``): per-item NLL,
    MIA scores, EM / ES; ``rwku_fm_rm`` = 100 · mean NLL_mean (RWKU FM / RM, SPEC 6.3)."""
    want = frozenset(metrics)
    fmt = ctx.formatter
    encoded = [fmt.encode_text(r.text, ctx.prefix_of(r)) for r in records]
    dist = bool(want & DIST)
    stats = score(ctx.model, encoded, fmt.pad_id, ctx.batch_size, ctx.device, dist_stats=dist)
    result = SetResult(wanted=want)
    for rec, st, enc in zip(records, stats, encoded):
        row: dict[str, Any] = {"id": rec.id, "nll_mean": st.nll_mean}
        row |= stats_metrics(st, rec.text, want, ctx, template=False, labels=enc.labels)
        result.items.append(row)
    add_passage_extras(
        result, encoded, lambda f: [f.encode_text(r.text, ctx.prefix_of(r)) for r in records],
        ctx, want,
    )  # fmt: skip
    set_means(result, want)
    if "rwku_fm_rm" in want:
        result.metrics["rwku_fm_rm"] = mia.rwku_fm_rm([row["nll_mean"] for row in result.items])
    return result
