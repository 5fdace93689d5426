"""The KnowUnDo suite: teacher-forced token accuracy and perplexity on the val lists (SPEC 6.2).

Per val item i, over its labelled positions T_i (``model.max_length`` applies; KnowUnDo uses
256): acc_i = (1/|T_i|) Σ_t 1[argmax p(·|y_<t) = y_t] and
lp_i = (1/|T_i|) Σ_t log p(y_t|y_<t); a set reports acc = 100·mean_i acc_i and
ppl = exp(−mean_i lp_i) (``metrics.knowundo.knowundo_scores``). Then

    Unlearn Success   = 100 − acc(unlearn.val)      (higher = more forgotten)
    Retention Success = acc(retention.val)          (higher = better kept)

(SPEC 6.2 [inferred]; KnowUnDo paper table layout, SPEC 7). No generation.

Token set T_i (``eval.protocol``, README "Protocols"):

- ``paper`` (default; ``ou`` is the same here): KnowUnDo's, ``"\n\n" + answer`` labelled, the
  question (and direct prompt) masked, no EOS; the string is tokenised whole and the mask is
  ``len(tokenizer(prompt))`` long (KnowUnDo ``llm_unlearn/utils/save_tokenized_dataset.py``
  l. 52-55, ``llm_unlearn/utils/llm_tokenize_with_chunk.py`` l. 42-50, commit 92aea2b8;
  :meth:`obliviate.formatting.Formatter.encode_kud_paper`);
- ``fixed``: obliviate's (SPEC F1-F3): prompt ``question + "\n\n"`` unlabelled, answer + EOS
  labelled, prompt and answer tokenised apart so the boundary is exact.

The scorer reads the token set off the run's formatter (``model.template=kud-nn``).

Every set is scored twice: as is and with the domain's direct prompt prepended before the
question (sets ``*_dp``; scored text = direct_prompt + question + "\\n\\n" + answer with the
``kud-nn`` template). KnowUnDo evaluates its baselines with the direct prompt and MemFlex
without it (SPEC 8 #19); both are reported, for every method, from the same models.
"""

from __future__ import annotations

from typing import Any

from ...records import BenchmarkData, QAItem
from ..metrics import tofu
from ..metrics.knowundo import knowundo_scores, retention_success, token_accuracy, unlearn_success
from ..scoring import score
from .base import (
    EvalContext,
    SetResult,
    Suite,
    finish_set,
    flatten,
    generation_metrics,
    register_suite,
    stats_metrics,
)
from .plan import CROSS, DIST, GENERATION, GENERIC, PROTOCOL, protocol

# no perturbed answers, no member / non-member pair, no retain model values in KnowUnDo
UNAVAILABLE = CROSS | {"truth_ratio", "normalised_prob", "rwku_fm_rm"}
# eval set -> (records' eval set in BenchmarkData, direct prompt on)
SETS: dict[str, tuple[str, bool]] = {
    "unlearn_val": ("unlearn_val", False),
    "retention_val": ("retention_val", False),
    "unlearn_val_dp": ("unlearn_val", True),
    "retention_val_dp": ("retention_val", True),
}
HEADLINE = [
    "unlearn_success",
    "retention_success",
    "unlearn_success_dp",
    "retention_success_dp",
    "unlearn_val/ppl",
    "retention_val/ppl",
]
LABELS = {
    "unlearn_success": "Unlearn Success ↑",
    "retention_success": "Retention Success ↑",
    "unlearn_success_dp": "Unlearn Success (direct prompt) ↑",
    "retention_success_dp": "Retention Success (direct prompt) ↑",
    "unlearn_val/ppl": "ppl unlearn.val",
    "retention_val/ppl": "ppl retention.val",
}


def evaluate_kud_set(
    records: list[QAItem],
    ctx: EvalContext,
    direct_prompt: str,
    want: frozenset[str] = frozenset(),
    forget_like: bool = True,
) -> SetResult:
    """One scoring pass over a val list: per-item token accuracy, mean log-prob; acc and ppl.

    ``want``: further metrics of ``eval.metrics`` (:mod:`.plan`), from the same pass (EM, ES, MA,
    MIA scores, probability) or from one generation pass when a generation metric is asked for;
    ``forget_like``: KFR (unlearn val) rather than KRR (retention val).
    """
    fmt = ctx.formatter
    prefixes = [ctx.prefix_of(r) + direct_prompt for r in records]
    encoded = [fmt.encode_pair(r.question, r.answer, pre) for r, pre in zip(records, prefixes)]
    dist = bool(want & DIST)
    stats = score(ctx.model, encoded, fmt.pad_id, ctx.batch_size, ctx.device, dist_stats=dist)
    generations: list[str] = []
    if want & GENERATION:
        generations = ctx.generate(
            [fmt.prompt_ids(r.question, pre) for r, pre in zip(records, prefixes)]
        )
    result = SetResult(wanted=want)
    for i, (rec, st) in enumerate(zip(records, stats)):
        empty = st.n == 0 and fmt.kud_paper  # cut to nothing labelled: KnowUnDo skips it
        row: dict[str, Any] = {
            "id": rec.id,
            "question": rec.question,
            "answer": rec.answer,
            "token_accuracy": float("nan") if empty else token_accuracy(st.correct),
            "mean_logprob": float("nan") if empty else float(st.logprobs.mean()),
            "n_tokens": st.n,
        }
        if want:
            row |= {"prob": tofu.length_normalised_prob(st.logprobs), "nll_mean": st.nll_mean}
            row |= stats_metrics(st, rec.answer, want, ctx)
        if generations:
            row |= generation_metrics(generations[i], rec.answer, want)
        result.items.append(row)
    if want:
        finish_set(result, records, ctx, want, generations, encoded, forget_like)
    # paper: an item with no labelled position (max_length cut it) is left out, as KnowUnDo's
    # compute_min_k_ppl_acc does (``if k_value > 0``, run_eval_lora.py l. 603-604); fixed keeps
    # an answer slot, so no item is ever empty there
    kept = [s for s in stats if s.n > 0 or not fmt.kud_paper]
    result.metrics |= knowundo_scores([s.correct for s in kept], [s.logprobs for s in kept])
    return result


@register_suite
class KnowUnDoSuite(Suite):
    """KnowUnDo: acc / ppl per val list and the success rates; no retain model is compared
    against. ``eval.metrics`` adds metrics of the same pass or a generation pass."""

    name = "knowundo"
    sets = tuple(SETS)
    headline = HEADLINE
    labels = LABELS
    default_sets = list(SETS)
    default_metrics = frozenset()
    uses_retain_model = False

    def accepted(self) -> dict[str, frozenset[str]]:
        return {s: (GENERIC - UNAVAILABLE) | protocol(self.name, True) for s in SETS}

    def accepted_across(self) -> frozenset[str]:
        return protocol(self.name, False)

    def evaluate(
        self, data: BenchmarkData, ctx: EvalContext, sets: list[str] | None = None
    ) -> dict[str, SetResult]:
        names = self.set_names(sets)
        direct = data.extras.get("direct_prompt", "")
        wanted = self.wanted(ctx)
        out = {}
        for name in names:
            source, with_prompt = SETS[name]
            records: Any = data.eval_sets[source].records
            want = wanted[name] - PROTOCOL  # acc, ppl and the success rates are always computed
            prompt = direct if with_prompt else ""
            out[name] = evaluate_kud_set(records, ctx, prompt, want, source == "unlearn_val")
        return out

    def aggregate(
        self, results: dict[str, SetResult], retain_values: dict[str, Any] | None
    ) -> dict[str, Any]:
        """``<set>/acc``, ``<set>/ppl`` and the success rates (KnowUnDo has no forget quality)."""
        flat = flatten(results)
        for suffix in ("", "_dp"):
            if f"unlearn_val{suffix}" in results:
                flat[f"unlearn_success{suffix}"] = unlearn_success(flat[f"unlearn_val{suffix}/acc"])
            if f"retention_val{suffix}" in results:
                acc = flat[f"retention_val{suffix}/acc"]
                flat[f"retention_success{suffix}"] = retention_success(acc)
        return flat
