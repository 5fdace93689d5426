"""The RWKU suite (Jin et al. 2024): forget / neighbour probes, MIA, utility (SPEC 1.4, 6.3, 7).

- Probes (``forget_fb`` L1, ``forget_qa`` L2, ``forget_aa`` L3, ``neighbor_fb``, ``neighbor_qa``):
  RWKU's user message per probe type (``benchmarks.rwku.probe_prompt``) through the template,
  suffix "Answer:" (none for the "affirmative suffix" attack); greedy, 30 new tokens, stop on EOS
  and end-of-turn; score = RWKU's ROUGE-L recall (pltrdy ``rouge==1.0.1`` port,
  ``metrics.rouge.rwku_rouge_l_recall``) against the answer. An empty generation is scored as
  RWKU scores it: replaced by "NOANSWER" (RWKU ``LLaMA-Factory/src/llmtuner/eval/eval_forget.py``,
  ``eval_neighbor.py``), so it counts in the mean with its (almost always 0) recall, and it is
  flagged beside the number (``empty: true`` in its row, the set's ``empty_rate``; the report
  marks such scores as not evidence of forgetting, SPEC 8 #28); ``degenerate_rate`` flags
  non-text and repeated-token answers (``metrics.degeneration``).
- MIA (``mia_forget``, ``mia_retain``): the raw text after one BOS, every token scored (no EOS);
  per text ll = −NLL_mean; ``loss`` = ll, ``zlib`` = ll / len(zlib(text)), ``mink20`` = Min-K%++
  at k = 0.2 (RWKU's stored key), ``mink`` = Min-K% at 0.2. The paper's FM / RM = 100·mean NLL on
  mia_forget / mia_retain (FM ↑ = forgotten, RM ↓).
- Utility: ``rwku_utility`` (MMLU, BBH, TruthfulQA, TriviaQA, fluency).

Aggregation (``eval.protocol``, README "Protocols"). ``paper``: every per-set value pools all
rows of the set, as RWKU scores a batch: one ``forget_level*.json`` per batch (``data/RWKU/Batch/
1-10/`` ...), ``Rouge().get_scores(hyps, refs, avg=True)`` over all its probes
(``eval_forget.py``, ``eval_neighbor.py``) and ``np.mean`` over all its texts (``eval_mia.py``);
"All" pools every FB, QA and AA probe (neighbour: FB and QA). ``fixed``: a mean per target
(``subject``), then the mean over the targets, so a batch run reports the average of its targets
as the single-target protocol (the paper's main table) averages runs, and a target with many
probes does not outweigh one with few. One target: both are the same number. Min-K%++
(``mink20``): ``paper`` divides by sqrt(σ²) unclamped, as ``eval_mia.py`` does (inf / NaN at
σ² ≤ 0); ``fixed`` clamps σ² at 1e-6 (OU's guard). Top-level keys are the paper's table columns
×100 (FM/RM are already ×100; Flu is entropy ×100).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...benchmarks.rwku import probe_prompt
from ...errors import ObliviateError
from ...formatting import IGNORE_INDEX, Encoded
from ...records import BenchmarkData, Passage, QAItem
from ..metrics import degeneration, mia, select
from ..metrics.rouge import rwku_rouge_l_recall
from ..scoring import score
from .base import (
    EvalContext,
    SetResult,
    Suite,
    add_passage_extras,
    finish_set,
    flatten,
    generation_metrics,
    mia_pair_metrics,
    register_suite,
    set_means,
    stats_metrics,
)
from .plan import CROSS, GENERATION, protocol
from .rwku_utility import UTILITY_SETS, prompt_ids, rwku_generate

PROBE_SETS = ("forget_fb", "forget_qa", "forget_aa", "neighbor_fb", "neighbor_qa")
MIA_SETS = ("mia_forget", "mia_retain")
# what ``eval.metrics`` can add per set (SPEC 6.4-6.6): generation metrics on the probes (RWKU's
# own ROUGE-L recall stays the pltrdy one), scoring metrics on the MIA texts, nothing on the
# utility sets; across sets, the MIA AUC of mia_forget (members) vs mia_retain
PROBE_METRICS = GENERATION
MIA_METRICS = frozenset(select(passage=True)) - CROSS | protocol("rwku", True)
CROSS_METRICS = frozenset(select(pair=True))
MIA_PAIRS = {"mia": ("mia_forget", "mia_retain")}
PROBE_NEW_TOKENS = 30
NOANSWER = "NOANSWER"  # what RWKU scores in place of an empty answer
MINK_RATIO = 0.2
# top-level key -> (set, per-item key or metric, scale); "All" keys are pooled separately
COLUMNS: dict[str, tuple[str, str, float]] = {
    "forget_fb": ("forget_fb", "rouge_l_recall", 100.0),
    "forget_qa": ("forget_qa", "rouge_l_recall", 100.0),
    "forget_aa": ("forget_aa", "rouge_l_recall", 100.0),
    "neighbor_fb": ("neighbor_fb", "rouge_l_recall", 100.0),
    "neighbor_qa": ("neighbor_qa", "rouge_l_recall", 100.0),
    "mia_fm": ("mia_forget", "fm", 1.0),
    "mia_rm": ("mia_retain", "fm", 1.0),
    "utility_gen": ("utility_gen", "acc", 100.0),
    "utility_rea": ("utility_rea", "em", 100.0),
    "utility_tru": ("utility_tru", "mc1", 100.0),
    "utility_fac": ("utility_fac", "f1", 100.0),
    "utility_flu": ("utility_flu", "entropy", 100.0),
}
POOLED = {"forget_all": PROBE_SETS[:3], "neighbor_all": PROBE_SETS[3:]}
HEADLINE = [
    "forget_fb", "forget_qa", "forget_aa", "forget_all",
    "neighbor_fb", "neighbor_qa", "neighbor_all",
    "mia_fm", "mia_rm",
    "utility_gen", "utility_rea", "utility_tru", "utility_fac", "utility_flu",
]  # fmt: skip
LABELS = {
    "forget_fb": "Forget FB ↓", "forget_qa": "Forget QA ↓", "forget_aa": "Forget AA ↓",
    "forget_all": "Forget All ↓", "neighbor_fb": "Neighbor FB ↑", "neighbor_qa": "Neighbor QA ↑",
    "neighbor_all": "Neighbor All ↑", "mia_fm": "MIA FM ↑", "mia_rm": "MIA RM ↓",
    "utility_gen": "Gen ↑", "utility_rea": "Rea ↑", "utility_tru": "Tru ↑", "utility_fac": "Fac ↑",
    "utility_flu": "Flu ↑",
}  # fmt: skip


def protocol_of(ctx: EvalContext | None) -> str:
    """``eval.protocol`` of the context (``paper`` without one)."""
    return ctx.option("protocol", "paper") if ctx is not None else "paper"


def pooled_mean(rows: Sequence[dict[str, Any]], key: str) -> float | None:
    """mean over every row with a value (RWKU's ``get_scores(avg=True)`` / ``np.mean`` over one
    batch file); None if no value."""
    vals = [float(row[key]) for row in rows if row.get(key) is not None]
    return float(np.mean(vals)) if vals else None


def set_mean(rows: Sequence[dict[str, Any]], key: str, proto: str) -> float | None:
    """The set value of ``key``: pooled under ``paper`` (RWKU), per-target means under ``fixed``."""
    return pooled_mean(rows, key) if proto == "paper" else per_target_mean(rows, key)


def per_target_mean(rows: Sequence[dict[str, Any]], key: str) -> float | None:
    """mean over subjects of (mean over that subject's rows with a value); None if no value."""
    by_subject: dict[str, list[float]] = {}
    for row in rows:
        if row.get(key) is not None:
            by_subject.setdefault(row["subject"], []).append(float(row[key]))
    means = [float(np.mean(v)) for v in by_subject.values()]
    return float(np.mean(means)) if means else None


def evaluate_probes(
    records: list[QAItem], ctx: EvalContext, want: frozenset[str] = frozenset()
) -> SetResult:
    """Greedy answers to RWKU probes and their pltrdy ROUGE-L recall (an empty answer scored as
    "NOANSWER", as RWKU does, and flagged);
    ``want``: generation metrics of ``eval.metrics`` computed from the same answers."""
    prompts = []
    for rec in records:
        user, suffix = probe_prompt(rec)
        prompts.append(prompt_ids(ctx, user, suffix, rec))
    outputs = rwku_generate(ctx, prompts, PROBE_NEW_TOKENS)
    hyps = [out if out.strip() else NOANSWER for out in outputs]
    recalls = rwku_rouge_l_recall(hyps, [rec.answer for rec in records])
    result = SetResult(wanted=want)
    extra = want - {"rouge_l_recall"}  # RWKU's own ROUGE-L recall is the pltrdy one
    for i, (rec, out) in enumerate(zip(records, outputs)):
        row = {
            "id": rec.id,
            "subject": rec.subject,
            "level": rec.level,
            "type": rec.meta.get("type"),
            "query": rec.question,
            "answer": rec.answer,
            "generation": out,
            "empty": not out.strip(),
            "degenerate": degeneration.is_degenerate(out),
        }
        result.items.append(generation_metrics(out, rec.answer, extra) | row)
        result.items[-1]["rouge_l_recall"] = recalls[i]
    if extra:
        forget_like = any(r.kind != "neighbor" for r in records)  # KFR, else KRR
        finish_set(result, records, ctx, extra, outputs, [], forget_like)
    value = set_mean(result.items, "rouge_l_recall", protocol_of(ctx))
    result.metrics["rouge_l_recall"] = value  # type: ignore[assignment]
    result.metrics["empty_rate"] = float(np.mean([r["empty"] for r in result.items]))
    result.metrics["degenerate_rate"] = float(np.mean([r["degenerate"] for r in result.items]))
    return result


def mia_encoding(text: str, ctx: EvalContext) -> Encoded:
    """BOS + text tokens (ICU prefix included when set), every text token labelled, no EOS."""
    tok, fmt = ctx.tokenizer, ctx.formatter
    ids = list(tok(text, add_special_tokens=False)["input_ids"])
    if fmt.bos_id is not None:
        ids = [fmt.bos_id, *ids]
    ids = ids[: fmt.max_length]
    if len(ids) < 2:
        raise ObliviateError(f"RWKU MIA text {text[:40]!r} has no token to score")
    return Encoded(ids, [IGNORE_INDEX, *ids[1:]])


def evaluate_mia(
    records: list[Passage], ctx: EvalContext, want: frozenset[str] = frozenset()
) -> SetResult:
    """RWKU's MIA scores per text and FM / RM; ``want``: the library's MIA attacks and
    memorisation metrics of ``eval.metrics`` from the same pass (AUC: :meth:`RWKUSuite.aggregate`)."""
    texts = [ctx.prefix_of(r) + r.text for r in records]
    encoded = [mia_encoding(t, ctx) for t in texts]
    stats = score(ctx.model, encoded, ctx.formatter.pad_id, ctx.batch_size, ctx.device, dist_stats=True)  # fmt: skip
    result = SetResult(wanted=want)
    # paper: RWKU's unclamped sqrt(σ²); fixed: σ² clamped at 1e-6
    sigma2_min = None if protocol_of(ctx) == "paper" else 1e-6
    for rec, text, st in zip(records, texts, stats):
        ll = -st.nll_mean
        result.items.append(
            {
                "id": rec.id,
                "subject": rec.subject,
                "nll_mean": st.nll_mean,
                "loss": ll,
                "zlib": ll / len(zlib.compress(text.encode("utf-8"))),
                "mink": mia.rwku_min_k(st.logprobs, MINK_RATIO),
                "mink20": mia.rwku_min_k_plus_plus(
                    st.logprobs, st.mu, st.sigma2, MINK_RATIO, sigma2_min
                ),
            }
            | stats_metrics(st, text, want, ctx)
        )
    if want:
        add_passage_extras(result, encoded, lambda f: [], ctx, want)
        set_means(result, want)
    proto = protocol_of(ctx)
    if proto == "paper":  # one batch file: 100 · mean NLL over all its texts
        result.metrics["fm"] = mia.rwku_fm_rm([row["nll_mean"] for row in result.items])
    else:
        by_subject: dict[str, list[float]] = {}
        for row in result.items:
            by_subject.setdefault(row["subject"], []).append(row["nll_mean"])
        result.metrics["fm"] = float(np.mean([mia.rwku_fm_rm(v) for v in by_subject.values()]))
    for key in ("loss", "zlib", "mink20"):
        result.metrics[key] = set_mean(result.items, key, proto)  # type: ignore[assignment]
    if "rwku_min_k" in want:  # RWKU computes Min-K% per text but does not report it
        result.metrics["mink"] = set_mean(result.items, "mink", proto)  # type: ignore[assignment]
    return result


@register_suite
class RWKUSuite(Suite):
    name = "rwku"
    sets = (*PROBE_SETS, *MIA_SETS, *UTILITY_SETS)
    headline = HEADLINE
    labels = LABELS
    default_sets = [*PROBE_SETS, *MIA_SETS, *UTILITY_SETS]
    mia_pairs = MIA_PAIRS
    default_metrics = frozenset()
    uses_retain_model = False
    protocol = "paper"  # eval.protocol of the last :meth:`evaluate` (its "All" keys' pooling)

    def accepted(self) -> dict[str, frozenset[str]]:
        return {s: PROBE_METRICS if s in PROBE_SETS else MIA_METRICS if s in MIA_SETS
                else frozenset() for s in self.sets}  # fmt: skip

    def accepted_across(self) -> frozenset[str]:
        return CROSS_METRICS

    def evaluate(
        self, data: BenchmarkData, ctx: EvalContext, sets: list[str] | None = None
    ) -> dict[str, SetResult]:
        names = self.set_names(sets)
        wanted = self.wanted(ctx)
        self.protocol = protocol_of(ctx)
        out: dict[str, SetResult] = {}
        for name in names:
            records: Any = data.eval_sets[name].records
            if not records:
                raise ObliviateError(f"RWKU eval set {name!r} has no rows for the selected targets")
            if name in PROBE_SETS:
                out[name] = evaluate_probes(records, ctx, wanted[name])
            elif name in MIA_SETS:
                out[name] = evaluate_mia(records, ctx, wanted[name])
            else:
                out[name] = UTILITY_SETS[name](records, ctx)
        return out

    def aggregate(
        self, results: dict[str, SetResult], retain_values: dict[str, Any] | None
    ) -> dict[str, Any]:
        """``<set>/<metric>`` plus the paper's columns ×100 (``forget_fb`` ... ``utility_flu``)."""
        flat = flatten(results)
        for key, (name, metric, scale) in COLUMNS.items():
            value = flat.get(f"{name}/{metric}")
            if name in results:
                flat[key] = None if value is None else scale * value
        for key, names in POOLED.items():
            if all(n in results for n in names):
                rows = [row for n in names for row in results[n].items]
                value = set_mean(rows, "rouge_l_recall", self.protocol)
                flat[key] = None if value is None else 100.0 * value
        for pair, (members, others) in MIA_PAIRS.items():
            if members in results and others in results:  # no retain model: privleak vs 0.5
                flat |= mia_pair_metrics(pair, members, others, results, None)
        return flat
