"""Per-item rows of a set: the registry's per-item functions over the shared scoring and
generation passes, the passes of their own a metric needs (run only when asked for), set means.

What computes a name is the registry (``eval.metrics.METRICS``): ``scoring`` metrics read one
item's :class:`~..scoring.ItemStats`, ``generation`` metrics one greedy answer; the metrics of
kind ``own`` (GradNorm, EL, MEMO, KFR / KRR), MEOW MA with ``eval.meow_prompt=raw``, the
Reference attack's reference-model pass and the linguistic score's scorer pass run here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np

from ...formatting import IGNORE_INDEX, Encoded, Formatter
from ...records import QAItem
from ..metrics import METRICS, Generated, ScoredItem, linguistic, select
from ..metrics import kfr_krr as kfr_rules
from ..relearn_protocol import RELEARN_METRICS, is_tofu, relearn_generations, relearn_indices
from ..scoring import ItemStats, score
from .context import EvalContext, SetResult

# per-item fields whose set value is their mean (NaN items skipped)
MEAN_FIELDS = select(mean=True)
_SCORING_ITEMS = [s for s in METRICS.values() if s.kind == "scoring" and s.per_item is not None]
_GENERATION_ITEMS = [s for s in METRICS.values() if s.kind == "generation" and s.per_item]


def item_metrics(specs: Sequence[Any], item: Any, want: Collection[str]) -> dict[str, float]:
    """``spec.per_item(item)`` for each wanted spec (None results left out), in registry order."""
    out: dict[str, float] = {}
    for spec in specs:
        if spec.name in want and (value := spec.per_item(item)) is not None:
            out[spec.name] = value
    return out


def stats_metrics(
    st: ItemStats,
    text: str,
    want: Collection[str],
    ctx: EvalContext,
    template: bool | None = None,
    labels: Sequence[int] | None = None,
) -> dict[str, float]:
    """Per-item metrics read off one item's scoring statistics: EM, ES, MEOW MA and the MIA
    scores (``text``: the scored answer or passage, for ZLib; ``template``: whether the scored
    ids are MA's prompt ids, by default ``eval.meow_prompt=template``; ``labels``: the scored
    labels: under ``eval.protocol=paper|ou`` ZLib compresses their decoded text, as OU's
    ``extract_target_texts_from_processed_data`` does, instead of ``text``)."""
    if template is None:
        template = ctx.option("meow_prompt", "template") == "template"
    protocol = ctx.option("protocol", "paper")
    if labels is not None and protocol != "fixed" and "mia_zlib" in want:
        kept = [int(i) for i in labels if i != IGNORE_INDEX]
        text = ctx.tokenizer.decode(kept, skip_special_tokens=True)
    item = ScoredItem(st, text, ctx.option("min_k", 0.4), template, protocol)
    return item_metrics(_SCORING_ITEMS, item, want)


def generation_metrics(gen: str, reference: str, want: Collection[str]) -> dict[str, Any]:
    """The generation row: the answer and each wanted generation metric of it."""
    return {"generation": gen} | item_metrics(_GENERATION_ITEMS, Generated(gen, reference), want)


def scorer_perplexities(
    ctx: EvalContext, questions: Sequence[str], responses: Sequence[str]
) -> list[float]:
    """PPL = exp(mean NLL of the response given the query) under the scorer model, response
    labelled, no EOS; NaN for an empty one. ``fixed``: ``ctx.scorer()`` (``eval.scorer_model``),
    prompt ids + response ids concatenated (SPEC 8 #27). ``paper`` (ReLearn ``compute_ppl``):
    the default scorer is the run's ``base`` model (the original chat model), and
    ``tokenizer(query + response)`` is scored with its first ``len(tokenizer(query))`` labels
    masked (one string, tokenised once)."""
    paper = ctx.option("protocol", "paper") == "paper"
    name = ctx.option("scorer_model", "target")
    if paper and name == "target" and ctx.load_model is not None:  # a context that can load it
        name = "base"
    model, fmt = ctx.other_model("scorer_model", name)
    encoded, index = [], []
    for i, (q, r) in enumerate(zip(questions, responses)):
        if not r:
            continue
        if paper:
            query = fmt.prompt_text(q)
            n_query = len(fmt.tok(query)["input_ids"])
            full = list(fmt.tok(query + r)["input_ids"])[: fmt.max_length]
            if len(full) <= n_query:
                continue
            encoded.append(Encoded(full, [IGNORE_INDEX] * n_query + full[n_query:]))
            index.append(i)
            continue
        prompt = fmt.prompt_ids(q)
        ids = fmt._ids(fmt.answer_text(r))[: max(1, fmt.max_length - len(prompt))]
        encoded.append(Encoded(prompt + ids, [IGNORE_INDEX] * len(prompt) + ids))
        index.append(i)
    ppls = [float("nan")] * len(responses)
    device = next(model.parameters()).device
    for i, st in zip(index, score(model, encoded, fmt.pad_id, ctx.batch_size, device)):
        ppls[i] = float(np.exp(st.nll_mean))
    return ppls


def reference_nlls(ctx: EvalContext, encode: Callable[[Formatter], list[Encoded]]) -> list[float]:
    """Per-item NLL_mean under ``eval.mia_reference_model`` for the Reference attack, or [] when
    that is ``retain`` (the retain model's saved ``retain_values.json`` is used instead)."""
    name = ctx.option("mia_reference_model", "retain")
    if name == "retain":
        return []
    model, fmt = ctx.other_model("mia_reference_model", name)
    device = next(model.parameters()).device
    return [st.nll_mean for st in score(model, encode(fmt), fmt.pad_id, ctx.batch_size, device)]


def extra_passes(
    records: Sequence[QAItem],
    ctx: EvalContext,
    want: Collection[str],
    rows: list[dict[str, Any]],
    answer_encodings: list[Encoded],
    forget_like: bool,
) -> None:
    """Metrics that need passes of their own, run only when asked for; results go in ``rows``."""
    values: dict[str, list[float]] = {}
    prompt_mode = ctx.option("meow_prompt", "template")
    meow_tokens = ctx.option("meow_max_new_tokens", 200)
    if "mia_gradnorm" in want:
        from ..gradnorm import gradnorm_scores

        values["mia_gradnorm"] = gradnorm_scores(ctx.model, answer_encodings, ctx.device)
    if "memorisation_accuracy" in want and prompt_mode == "raw":
        from ..memorisation_gen import memorisation_accuracy_scores

        values["memorisation_accuracy"] = memorisation_accuracy_scores(
            ctx.model, ctx.formatter, records, ctx.batch_size, ctx.device, template=False
        )
    if "extraction_likelihood" in want:
        from ..memorisation_gen import extraction_likelihood_scores

        values["extraction_likelihood"] = extraction_likelihood_scores(
            ctx.formatter, records, ctx.generate, meow_tokens, prompt_mode == "template"
        )
    if "memo" in want:
        from ..memo import memo_scores

        values["memo"] = memo_scores(
            ctx.model, ctx.tokenizer, [(r.question, r.answer) for r in records],
            formatter=ctx.formatter, prompt=prompt_mode, max_new_tokens=meow_tokens,
            batch_size=ctx.batch_size, device=ctx.device,
            protocol=ctx.option("protocol", "paper"),
        )  # fmt: skip
    if "mia_reference" in want:
        nlls = reference_nlls(
            ctx, lambda f: [f.encode_pair(r.question, r.answer, ctx.prefix_of(r)) for r in records]
        )
        if nlls:
            values["reference_nll"] = nlls
    sub_records, sub_rows = list(records), rows
    generations = [row.get("generation", "") for row in rows]
    if ctx.option("protocol", "paper") == "paper" and want & RELEARN_METRICS:
        sub_records, sub_rows, generations = relearn_items(records, ctx, rows, forget_like)
    if "linguistic_score" in want:
        ppls = scorer_perplexities(ctx, [r.question for r in sub_records], generations)
        for row, v in zip(sub_rows, ppls):
            row["linguistic_ppl"] = v
    kind = "kfr" if forget_like else "krr"
    if kind in want:
        judged = ctx.judge().judge(
            [r.question for r in sub_records], generations, [r.answer for r in sub_records],
            forget_like,
        )  # fmt: skip
        for row, j in zip(sub_rows, judged):
            row.update(j)
    for name, vals in values.items():
        for row, v in zip(rows, vals):
            row[name] = v


def relearn_items(
    records: Sequence[QAItem], ctx: EvalContext, rows: list[dict[str, Any]], forget_like: bool
) -> tuple[list[QAItem], list[dict[str, Any]], list[str]]:
    """``eval.protocol=paper``: the items ReLearn scores (TOFU: 200 sampled, seed 42, forget set
    first; else all), their rows and ReLearn's sampled answers (``relearn_generation`` in each
    row). See :mod:`obliviate.eval.relearn_protocol`."""
    index = list(range(len(records)))
    if is_tofu([r.id for r in records]):
        index = relearn_indices(len(records), forget_like, getattr(ctx, "_relearn_forget_n", None))
        if forget_like:  # the retain set's draw continues the forget set's RNG stream
            ctx._relearn_forget_n = len(records)  # type: ignore[attr-defined]
    prompts = [
        ctx.formatter.prompt_ids(records[i].question, ctx.prefix_of(records[i])) for i in index
    ]
    gens = relearn_generations(ctx, prompts)
    for i, g in zip(index, gens):
        rows[i]["relearn_generation"] = g
    return [records[i] for i in index], [rows[i] for i in index], gens


def set_means(result: SetResult, want: Collection[str]) -> None:
    """The set mean of each per-item field asked for (NaN items left out); a field that is NaN
    on every item (e.g. a diverged model) is reported as NaN, never dropped, so ``metrics.json``
    shows it as null with ``<key>/invalid``."""
    for name in MEAN_FIELDS:
        vals = [row[name] for row in result.items if name in row]
        if name in want and vals:
            all_nan = bool(np.all(np.isnan(vals)))
            result.metrics[name] = float("nan") if all_nan else float(np.nanmean(vals))


def finish_set(
    result: SetResult,
    records: Sequence[QAItem],
    ctx: EvalContext,
    want: Collection[str],
    generations: Sequence[str],
    answer_encodings: list[Encoded],
    forget_like: bool,
) -> None:
    """After the per-item rows of a QA set: the passes of its own a metric needs (run only when
    asked for), the set means, the linguistic score and ReLearn's harmonic means."""
    extra_passes(records, ctx, want, result.items, answer_encodings, forget_like)
    set_means(result, want)
    m = result.metrics
    if "linguistic_score" in want and generations:
        scored = [row for row in result.items if "linguistic_ppl" in row]
        gens = [row.get("relearn_generation", row.get("generation", "")) for row in scored]
        m |= linguistic.linguistic_summary(gens, [row["linguistic_ppl"] for row in scored])
    if "kfr" in m and "rouge_l_recall" in m:
        m["harmonic_kfr"] = kfr_rules.harmonic(1.0 - m["rouge_l_recall"], m["kfr"])
    if "krr" in m and "rouge_l_recall" in m:
        m["harmonic_krr"] = kfr_rules.harmonic(m["rouge_l_recall"], m["krr"])


def add_passage_extras(
    result: SetResult,
    encoded: list[Encoded],
    encode: Callable[[Formatter], list[Encoded]],
    ctx: EvalContext,
    want: Collection[str],
) -> None:
    """The passage-set metrics with passes of their own: GradNorm (on ``encoded``), the
    Reference attack (``encode`` builds the texts for the reference model's tokenizer)."""
    if "mia_gradnorm" in want:
        from ..gradnorm import gradnorm_scores

        for row, v in zip(result.items, gradnorm_scores(ctx.model, encoded, ctx.device)):
            row["mia_gradnorm"] = v
    if "mia_reference" in want:
        for row, v in zip(result.items, reference_nlls(ctx, encode)):
            row["reference_nll"] = v
