"""The MUSE suite (Shi et al. 2024; swj0419/muse_bench ``eval.py``; SPEC 2.4, 6.8, 7).

- ``forget_verbmem``: [BOS] + the raw ``prompt`` (no template), greedy 128 new tokens; ROUGE-L
  F1 (unstemmed) against the ground truth cut to 128 token ids (``metrics.muse``); the column
  ``forget_verbmem`` = 100 · mean F1 (MUSE ``verbmem_f``).
- ``forget_knowmem`` / ``retain_knowmem``: [BOS] + every pair of the matching ``_icl`` split as
  ``"Question: {q}\\nAnswer: {a}\\n\\n"`` + ``"Question: {q}\\nAnswer: "``, greedy 32 new tokens,
  the output cut at "\\n\\n" / "\\nQuestion" / "Question:"; the columns ``forget_knowmem`` /
  ``retain_knowmem`` = 100 · mean ROUGE-L recall (open-unlearning's ``forget_knowmem_ROUGE``);
  ``*_f1`` = 100 · mean ROUGE-L F1, what MUSE's own ``eval.py`` reports (``mean_rougeL``).
- ``privleak_forget`` / ``privleak_holdout`` (+ ``privleak_retain``, scored, not compared): BOS
  + text, every token scored; Min-40% per text; ``privleak_auc`` = P(s_forget > s_holdout)
  (MUSE's ``forget_holdout_Min-40%``), ``privleak`` = (AUC − AUC_retrain) / AUC_retrain × 100
  against the retain model's AUC when it is evaluated in the run, else MUSE's retrained-model
  constant (0.4772 News, 0.5393 Books); ``privleak_reference`` says which.

An in-context method's prefix (ICU) is put before every prompt and MIA text, as RWKU's suite
does. Generations are decoded with special tokens skipped and stripped (MUSE does not strip: an
answer that starts with "\\n\\n" is empty there and the next line here). Prompts longer than
``model.max_length`` minus the new tokens are cut from the left, BOS kept (MUSE never cuts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...benchmarks.muse import knowmem_prompt
from ...errors import ObliviateError
from ...records import BenchmarkData, Passage, QAItem
from ..metrics import degeneration
from ..metrics import muse as mm
from ..scoring import score
from .base import EvalContext, SetResult, Suite, flatten, register_suite
from .rwku import mia_encoding

GEN_SETS = ("forget_verbmem", "forget_knowmem", "retain_knowmem")
MIA_SETS = ("privleak_forget", "privleak_retain", "privleak_holdout")
# MUSE Table 3: C1 no verbatim memorisation, C2 no knowledge memorisation, C3 no privacy
# leakage, C4 utility preservation (open-unlearning / SPEC 7 list KnowMem first)
HEADLINE = ["forget_verbmem", "forget_knowmem", "privleak", "retain_knowmem"]
LABELS = {
    "forget_verbmem": "VerbMem on D_f ↓",
    "forget_knowmem": "KnowMem on D_f ↓",
    "privleak": "PrivLeak (→ 0)",
    "retain_knowmem": "KnowMem on D_r ↑",
}
# column -> (set, per-set metric) ×100
COLUMNS = {
    "forget_knowmem": ("forget_knowmem", "rouge_l_recall"),
    "forget_knowmem_f1": ("forget_knowmem", "rouge_l_f1"),
    "forget_verbmem": ("forget_verbmem", "rouge_l_f1"),
    "retain_knowmem": ("retain_knowmem", "rouge_l_recall"),
    "retain_knowmem_f1": ("retain_knowmem", "rouge_l_f1"),
}
RETAIN_AUC_KEY = "privleak/auc"


def prompt_ids(ctx: EvalContext, text: str, new_tokens: int) -> list[int]:
    """[BOS] + tokens of ``text`` (MUSE: ``tokenizer(prompt, add_special_tokens=True)``), cut
    from the left to leave ``new_tokens`` positions within ``max_length`` (BOS kept)."""
    ids = list(ctx.tokenizer(text, add_special_tokens=False)["input_ids"])
    bos = ctx.formatter.bos_id
    head = [bos] if bos is not None else []
    room = max(1, ctx.formatter.max_length - new_tokens - len(head))
    return head + ids[-room:]


def _generation_rows(
    records: list[QAItem], prompts: list[str], refs: list[str], outputs: list[str]
) -> SetResult:
    result = SetResult()
    for rec, prompt, ref, out in zip(records, prompts, refs, outputs):
        f1, recall = mm.rouge_l(ref, out)
        result.items.append({
            "id": rec.id, "prompt": prompt, "reference": ref, "generation": out,
            "rouge_l_f1": f1, "rouge_l_recall": recall, "empty": not out.strip(),
            "degenerate": degeneration.is_degenerate(out),
        })  # fmt: skip
    for key in ("rouge_l_f1", "rouge_l_recall"):
        result.metrics[key] = mm.mean([r[key] for r in result.items])
    result.metrics["empty_rate"] = float(np.mean([r["empty"] for r in result.items]))
    result.metrics["degenerate_rate"] = float(np.mean([r["degenerate"] for r in result.items]))
    return result


def evaluate_verbmem(records: list[QAItem], ctx: EvalContext) -> SetResult:
    """Greedy 128-token continuations of the prompts, ROUGE-L against the truncated gt."""
    n = mm.VERBMEM_NEW_TOKENS
    prompts = [ctx.prefix_of(r) + r.question for r in records]  # prefix: in-context methods
    outputs = ctx.generate([prompt_ids(ctx, p, n) for p in prompts], n)
    refs = [mm.truncated_reference(ctx.tokenizer, r.answer, n) for r in records]
    return _generation_rows(records, prompts, refs, outputs)


def evaluate_knowmem(
    records: list[QAItem], icl: list[tuple[str, str]], ctx: EvalContext
) -> SetResult:
    """In-context QA, greedy 32 tokens, output cut at MUSE's stop words, ROUGE-L."""
    n = mm.KNOWMEM_NEW_TOKENS
    prompts = [ctx.prefix_of(r) + knowmem_prompt(r.question, icl) for r in records]
    raw = ctx.generate([prompt_ids(ctx, p, n) for p in prompts], n)
    result = _generation_rows(records, prompts, [r.answer for r in records],
                              [mm.knowmem_cut(o) for o in raw])  # fmt: skip
    for row, out in zip(result.items, raw):
        row["raw_generation"] = out
    return result


def evaluate_privleak(records: list[Passage], ctx: EvalContext) -> SetResult:
    """Min-40% (MUSE) and the mean NLL of every text (BOS + text, all tokens scored)."""
    encoded = [mia_encoding(ctx.prefix_of(r) + r.text, ctx) for r in records]
    stats = score(ctx.model, encoded, ctx.formatter.pad_id, ctx.batch_size, ctx.device)
    result = SetResult()
    for rec, st in zip(records, stats):
        result.items.append({"id": rec.id, "nll_mean": st.nll_mean, "tokens": st.n,
                             "min_k": mm.min_k(st.logprobs, mm.MIN_K)})  # fmt: skip
    result.metrics["min_k"] = mm.mean([r["min_k"] for r in result.items])
    result.metrics["nll_mean"] = mm.mean([r["nll_mean"] for r in result.items])
    return result


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else "–"


def privleak_auc(results: Mapping[str, SetResult]) -> float | None:
    """MUSE's forget-vs-holdout Min-40% AUC, None unless both sets were evaluated."""
    if "privleak_forget" not in results or "privleak_holdout" not in results:
        return None
    forget = [r["min_k"] for r in results["privleak_forget"].items]
    holdout = [r["min_k"] for r in results["privleak_holdout"].items]
    return mm.auc(forget, holdout)


@register_suite
class MUSESuite(Suite):
    name = "muse"
    sets = (*GEN_SETS, *MIA_SETS)
    default_sets = list(sets)
    headline = HEADLINE
    labels = LABELS
    default_metrics = frozenset()
    uses_retain_model = True
    auc_retrain = 0.0  # MUSE's constant for the corpus of the last :meth:`evaluate`

    def accepted(self) -> dict[str, frozenset[str]]:
        return {name: frozenset() for name in self.sets}

    def evaluate(
        self, data: BenchmarkData, ctx: EvalContext, sets: list[str] | None = None
    ) -> dict[str, SetResult]:
        names = self.set_names(sets)
        self.wanted(ctx)  # eval.metrics: MUSE computes its own metrics only (error otherwise)
        self.auc_retrain = float(data.extras["auc_retrain"])
        out: dict[str, SetResult] = {}
        for name in names:
            records: Any = data.eval_sets[name].records
            if not records:
                raise ObliviateError(f"MUSE eval set {name!r} is empty")
            if name == "forget_verbmem":
                out[name] = evaluate_verbmem(records, ctx)
            elif name in GEN_SETS:
                icl = data.extras["icl"]["forget" if name == "forget_knowmem" else "retain"]
                out[name] = evaluate_knowmem(records, icl, ctx)
            else:
                out[name] = evaluate_privleak(records, ctx)
        return out

    def retain_values(self, results: Mapping[str, SetResult]) -> dict[str, Any]:
        """The retain model's Min-40% AUC: the other models' PrivLeak reference."""
        auc = privleak_auc(results)
        return {} if auc is None else {RETAIN_AUC_KEY: auc}

    def report_notes(self, rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """Under the report's table: what PrivLeak was measured against, and MUSE's F1 KnowMem."""
        notes = []
        for label, m in rows:
            if m.get("privleak_reference") is not None:
                notes.append(
                    f"{label}: PrivLeak = (AUC − AUC_retrain) / AUC_retrain × 100 with Min-40% AUC "
                    f"{_num(m.get('privleak_auc'))} against AUC_retrain "
                    f"{_num(m.get('privleak_auc_retrain'))} ({m['privleak_reference']})."
                )
        if any("forget_knowmem_f1" in m for _, m in rows):
            notes.append(
                "KnowMem columns are ROUGE-L recall ×100 (open-unlearning); MUSE's eval.py reports "
                "ROUGE-L F1: " + ", ".join(
                    f"{label} {_num(m.get('forget_knowmem_f1'))} / {_num(m.get('retain_knowmem_f1'))}"
                    for label, m in rows if "forget_knowmem_f1" in m
                ) + " (D_f / D_r)."
            )  # fmt: skip
        return notes

    def aggregate(
        self, results: Mapping[str, SetResult], retain_values: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """``<set>/<metric>``, the paper's columns ×100 and PrivLeak."""
        flat = flatten(results)
        for key, (name, metric) in COLUMNS.items():
            if name in results:
                flat[key] = 100.0 * results[name].metrics[metric]
        auc = privleak_auc(results)
        if auc is not None:
            ref = (retain_values or {}).get(RETAIN_AUC_KEY)
            flat["privleak_reference"] = "retain model" if ref is not None else "MUSE constant"
            ref = float(ref) if ref is not None else self.auc_retrain
            flat["privleak_auc"] = auc
            flat["privleak_auc_retrain"] = ref
            # an AUC_retrain of 0 (a retain model that ranks every holdout text above every
            # forget text, as a tiny model can on a handful of texts) leaves PrivLeak undefined
            flat["privleak"] = mm.privleak(auc, ref) if ref > 0 else None
        return flat
