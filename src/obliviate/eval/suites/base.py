"""What every suite shares: the per-set scoring + generation pass, and cross-set metrics.

For a QA eval set, one teacher-forced scoring call covers, flattened into one list, every
item's answer, paraphrased answer and perturbed answers (the latter two only when a metric needs
them); one batched generation call covers every question (only when a metric needs it). Every
metric of :mod:`.plan` is then computed from those two results: probability, truth ratio, token
accuracy, exact memorisation, extraction strength, MEOW MA (token-id slicing: the same
``correct`` array), the LOSS / ZLib / Min-K% / Min-K%++ scores (``dist_stats`` of the same pass),
ROUGE, Brunet, Honoré, fluency entropy. Metrics with passes of their own run only when asked
for: the linguistic score's short scorer pass over the generations (in the ``all`` group), the
Reference attack's pass when ``eval.mia_reference_model`` is not the retain model, and, by name
only, GradNorm (backward, bs 1), EL and MEMO (generations per prefix), KFR / KRR (NLI +
embedding models).

Cross-set metrics (:func:`mia_pair_metrics`) compare a member set with a non-member set (MIA
AUC, SPEC 6.4) and use the retain model's values (:func:`retain_values`): per-item forget truth
ratios (forget quality), per-item NLL (Reference attack), the Min-K% AUC (privleak).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ...errors import ObliviateError
from ...formatting import IGNORE_INDEX, Encoded, Formatter
from ...records import Passage, QAItem
from ..generation import HFGenerator
from ..metrics import kfr_krr as kfr_rules
from ..metrics import linguistic, memorisation, meow, mia, rouge, tofu
from ..metrics.knowundo import token_accuracy
from ..scoring import ItemStats, score
from .plan import DEFAULT, GENERATION

# per-item fields whose set value is their mean (NaN items skipped)
MEAN_FIELDS = (
    "prob", "token_accuracy", "normalised_prob", "rouge_l_recall", "rouge1_recall", "rouge_l_f1",
    "rwku_rouge_l_recall", "exact_memorisation", "extraction_strength", "memorisation_accuracy",
    "extraction_likelihood", "memo", "brunet_index", "honore_statistic", "rttr",
    "fluency_entropy", "kfr", "krr",
)  # fmt: skip
RETAIN_ITEM_FIELDS = ("truth_ratio", "nll_mean")


@dataclass
class SetResult:
    """Per-item rows (for JSONL), per-set aggregate metrics and the metrics asked for."""

    metrics: dict[str, float] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    wanted: frozenset[str] = frozenset()


@dataclass
class EvalContext:
    model: torch.nn.Module
    tokenizer: Any
    formatter: Formatter
    batch_size: int = 32
    max_new_tokens: int = 32
    device: torch.device | str = "cpu"
    prefix: Callable[[Any], str] | None = None  # per-record prompt prefix (in-context unlearning)
    config: Any = None  # the run's EvalConfig: metrics, min_k, meow_*, scorer_model, kfr_krr
    generator: Callable[..., list[str]] | None = None  # eval.backend; None: HF on ``model``
    load_model: Callable[[str], tuple[Any, Any]] | None = None  # run role / hub id -> (model, tok)
    role: str = ""  # the evaluated model's run role (target, retain, unlearned)
    chat: Callable[[str], str] | None = None  # one-turn LLM (``generate`` backend): KFR entities
    _models: dict[str, tuple[Any, Formatter]] = field(default_factory=dict, repr=False)
    _judge: Any = field(default=None, repr=False)

    def prefix_of(self, record: Any) -> str:
        return self.prefix(record) if self.prefix is not None else ""

    def option(self, name: str, default: Any) -> Any:
        return getattr(self.config, name, default) if self.config is not None else default

    def generate(
        self, prompts: Sequence[list[int]], max_new_tokens: int | None = None
    ) -> list[str]:
        """Greedy continuations through the configured backend (HF by default)."""
        gen = self.generator or HFGenerator(
            self.model, self.tokenizer, self.batch_size, self.device
        )
        return gen(prompts, max_new_tokens or self.max_new_tokens)

    def other_model(self, key: str, name: str) -> tuple[Any, Formatter]:
        """Model and formatter named by config ``key``: ``self``, a run role or a hub id / path
        (the evaluated model when it names this role); each loaded once per context."""
        if name in ("self", self.role):
            return self.model, self.formatter
        if name not in self._models:
            if self.load_model is None:
                raise ObliviateError(f"eval.{key}={name!r}: this context cannot load models")
            model, tok = self.load_model(name)
            fmt = Formatter(tok, self.formatter.template, self.formatter.max_length)
            self._models[name] = (model, fmt)
        return self._models[name]

    def scorer(self) -> tuple[Any, Formatter]:
        """The linguistic score's PPL model (``eval.scorer_model``)."""
        return self.other_model("scorer_model", self.option("scorer_model", "self"))

    def judge(self):
        """The KFR / KRR judge built from ``eval.kfr_krr`` (loaded once per context)."""
        if self._judge is None:
            from ..kfr_krr import build_judge

            if self.config is None:
                raise ObliviateError("kfr / krr need eval.kfr_krr settings (the run's eval config)")
            self._judge = build_judge(self.config.kfr_krr, self.device, self.chat)
        return self._judge


# ---- one QA set ------------------------------------------------------------------------
def _nan_if(cond: bool, fn: Callable[[], float]) -> float:
    return fn() if cond else float("nan")


def _mia_scores(st: ItemStats, text: str, attacks: Collection[str], k: float) -> dict[str, float]:
    """Per-item OU MIA scores (loss-like) from the answer's scoring statistics (SPEC 6.4)."""
    out: dict[str, float] = {}
    if "mia_loss" in attacks:
        out["mia_loss"] = mia.mia_loss(st.logprobs)
    if "mia_zlib" in attacks:
        out["mia_zlib"] = mia.mia_zlib(st.logprobs, text)
    short = st.n < 2  # nothing left once the EOS label is dropped
    if "mia_min_k" in attacks:
        out["mia_min_k"] = _nan_if(not short, lambda: mia.mia_min_k(st.logprobs, k))
    if "mia_min_k_plus_plus" in attacks:
        out["mia_min_k_plus_plus"] = _nan_if(
            not short, lambda: mia.mia_min_k_plus_plus(st.logprobs, st.mu, st.sigma2, k)
        )
    return out


def _memorisation(st: ItemStats, want: Collection[str], with_ma: bool = True) -> dict[str, float]:
    """EM, ES (SPEC 6.5) and MEOW MA by token-id slicing from the teacher-forced ``correct``
    (``with_ma``: the scored ids are MA's prompt ids, i.e. ``eval.meow_prompt=template``)."""
    out: dict[str, float] = {}
    if st.n >= 2:
        if "exact_memorisation" in want:
            out["exact_memorisation"] = memorisation.exact_memorisation(st.correct)
        if "extraction_strength" in want:
            out["extraction_strength"] = memorisation.extraction_strength(st.correct)
    if "memorisation_accuracy" in want and with_ma:
        out["memorisation_accuracy"] = _nan_if(
            st.n >= 3, lambda: meow.memorisation_accuracy(st.correct[:-1])
        )
    return out


def stats_metrics(
    st: ItemStats, text: str, want: Collection[str], ctx: EvalContext
) -> dict[str, float]:
    """Per-item metrics read off one item's scoring statistics: EM, ES, MEOW MA and the MIA
    scores (``text``: the scored answer or passage, for ZLib)."""
    template = ctx.option("meow_prompt", "template") == "template"
    return _memorisation(st, want, template) | _mia_scores(st, text, want, ctx.option("min_k", 0.4))


def generation_metrics(gen: str, reference: str, want: Collection[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"generation": gen}
    if want & {"rouge_l_recall", "rouge1_recall", "rouge_l_f1"}:
        scores = rouge.rouge_scores([gen], [reference])
        names = {"rouge_l_recall": "rougeL_recall", "rouge1_recall": "rouge1_recall",
                 "rouge_l_f1": "rougeL_f1"}  # fmt: skip
        row |= {k: scores[v][0] for k, v in names.items() if k in want}
    if "rwku_rouge_l_recall" in want:
        row["rwku_rouge_l_recall"] = rouge.rwku_rouge_l_recall([gen], [reference])[0]
    for name, fn in (
        ("brunet_index", linguistic.brunet_index),
        ("honore_statistic", linguistic.honore_statistic),
        ("rttr", linguistic.rttr),
        ("fluency_entropy", linguistic.fluency_entropy),
    ):
        if name in want:
            row[name] = fn(gen)
    return row


def scorer_perplexities(
    ctx: EvalContext, questions: Sequence[str], responses: Sequence[str]
) -> list[float]:
    """PPL = exp(mean NLL of the response given the query) under ``ctx.scorer()``: prompt ids +
    response ids concatenated (SPEC 8 #27), response labelled, no EOS; NaN for an empty one."""
    model, fmt = ctx.scorer()
    encoded, index = [], []
    for i, (q, r) in enumerate(zip(questions, responses)):
        if not r:
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


def _extra_passes(
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
        )  # fmt: skip
    if "mia_reference" in want:
        nlls = reference_nlls(
            ctx, lambda f: [f.encode_pair(r.question, r.answer, ctx.prefix_of(r)) for r in records]
        )
        if nlls:
            values["reference_nll"] = nlls
    generations = [row.get("generation", "") for row in rows]
    if "linguistic_score" in want:
        values["linguistic_ppl"] = scorer_perplexities(
            ctx, [r.question for r in records], generations
        )
    kind = "kfr" if forget_like else "krr"
    if kind in want:
        judged = ctx.judge().judge(
            [r.question for r in records], generations, [r.answer for r in records], forget_like
        )
        for row, j in zip(rows, judged):
            row.update(j)
    for name, vals in values.items():
        for row, v in zip(rows, vals):
            row[name] = v


def set_means(result: SetResult, want: Collection[str]) -> None:
    for name in MEAN_FIELDS:
        vals = [row[name] for row in result.items if name in row]
        if name in want and vals and not np.all(np.isnan(vals)):
            result.metrics[name] = float(np.nanmean(vals))


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
    dist = "mia_min_k_plus_plus" in want
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
        row |= stats_metrics(answer, rec.answer, want, ctx)
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
    _extra_passes(records, ctx, want, result.items, answer_encodings, forget_like)
    set_means(result, want)
    m = result.metrics
    if "linguistic_score" in want and generations:
        ppls = [row["linguistic_ppl"] for row in result.items]
        m |= linguistic.linguistic_summary(generations, ppls)
    if "kfr" in m and "rouge_l_recall" in m:
        m["harmonic_kfr"] = kfr_rules.harmonic(1.0 - m["rouge_l_recall"], m["kfr"])
    if "krr" in m and "rouge_l_recall" in m:
        m["harmonic_krr"] = kfr_rules.harmonic(m["rouge_l_recall"], m["krr"])


def evaluate_passage_set(
    records: Sequence[Passage], ctx: EvalContext, metrics: Collection[str]
) -> SetResult:
    """Raw-text sets (every token after BOS labelled, SPEC 1.3 ``raw-text``): per-item NLL,
    MIA scores, EM / ES; ``rwku_fm_rm`` = 100 · mean NLL_mean (RWKU FM / RM, SPEC 6.3)."""
    want = frozenset(metrics)
    fmt = ctx.formatter
    encoded = [fmt.encode_text(r.text, ctx.prefix_of(r)) for r in records]
    dist = "mia_min_k_plus_plus" in want
    stats = score(ctx.model, encoded, fmt.pad_id, ctx.batch_size, ctx.device, dist_stats=dist)
    result = SetResult(wanted=want)
    k = ctx.option("min_k", 0.4)
    for rec, st in zip(records, stats):
        row: dict[str, Any] = {"id": rec.id, "nll_mean": st.nll_mean}
        row |= _memorisation(st, want, with_ma=False)
        row |= _mia_scores(st, rec.text, want, k)
        result.items.append(row)
    add_passage_extras(
        result, encoded, lambda f: [f.encode_text(r.text, ctx.prefix_of(r)) for r in records],
        ctx, want,
    )  # fmt: skip
    set_means(result, want)
    if "rwku_fm_rm" in want:
        result.metrics["rwku_fm_rm"] = mia.rwku_fm_rm([row["nll_mean"] for row in result.items])
    return result


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


# ---- across sets and models --------------------------------------------------------------
def retain_values(
    results: Mapping[str, SetResult], pairs: Mapping[str, tuple[str, str]]
) -> dict[str, Any]:
    """The retain model's values other models compare against: ``<set>/truth_ratio`` and
    ``<set>/nll_mean`` per item, and ``<pair>/auc_min_k`` of each member / non-member pair."""
    values: dict[str, Any] = {}
    for name, res in results.items():
        for f in RETAIN_ITEM_FIELDS:
            if res.items and all(f in row for row in res.items):
                values[f"{name}/{f}"] = [row[f] for row in res.items]
    for pair, (members, others) in pairs.items():
        if members in results and others in results:
            scores = _attack_scores(results[members], results[others], "mia_min_k")
            if scores is not None:
                values[f"{pair}/auc_min_k"] = mia.auc(*scores)
    return values


def _attack_scores(
    members: SetResult, others: SetResult, attack: str
) -> tuple[list[float], list[float]] | None:
    """Member and non-member scores of ``attack`` (NaN items dropped), or None if absent."""
    if not all(attack in row for row in [*members.items, *others.items]):
        return None
    a = [row[attack] for row in members.items if not np.isnan(row[attack])]
    b = [row[attack] for row in others.items if not np.isnan(row[attack])]
    return (a, b) if a and b else None


def _add_reference_scores(res: SetResult, name: str, retain: Mapping[str, Any] | None) -> bool:
    """Reference attack per item: NLL_mean(model) − NLL_mean(reference model) (SPEC 6.4); the
    reference is ``eval.mia_reference_model`` (rows' ``reference_nll``) or the retain model."""
    if res.items and all("reference_nll" in row for row in res.items):
        ref = [row["reference_nll"] for row in res.items]
    else:
        ref = (retain or {}).get(f"{name}/nll_mean")
    if ref is None:
        return False
    if len(ref) != len(res.items):
        raise ObliviateError(
            f"mia_reference: set {name!r} has {len(res.items)} items but the retain model's "
            f"retain_values.json has {len(ref)}; evaluate both on the same data"
        )
    for row, r in zip(res.items, ref):
        row["mia_reference"] = mia.mia_reference(row["nll_mean"], r)
    return True


def mia_pair_metrics(
    pair: str,
    members_name: str,
    others_name: str,
    results: Mapping[str, SetResult],
    retain: Mapping[str, Any] | None,
) -> dict[str, float]:
    """``<pair>/auc_<attack>`` (members vs non-members, SPEC 6.4) for each attack asked for on
    the member set, plus ``privleak`` / ``rel_diff`` against the retain model's Min-K% AUC
    (0.5 without a retain model)."""
    members, others = results[members_name], results[others_name]
    out: dict[str, float] = {}
    want = members.wanted
    for attack in ("mia_loss", "mia_zlib", "mia_min_k", "mia_min_k_plus_plus", "mia_gradnorm"):
        if attack in want and (scores := _attack_scores(members, others, attack)):
            out[f"{pair}/auc_{attack[4:]}"] = mia.auc(*scores)
    if (
        "mia_reference" in want
        and _add_reference_scores(members, members_name, retain)
        and _add_reference_scores(others, others_name, retain)
        and (scores := _attack_scores(members, others, "mia_reference"))
    ):
        out[f"{pair}/auc_reference"] = mia.auc(*scores)
    if f"{pair}/auc_min_k" in out:
        auc_ret = (retain or {}).get(f"{pair}/auc_min_k", 0.5)
        if "privleak" in want:
            out[f"{pair}/privleak"] = mia.privleak(out[f"{pair}/auc_min_k"], auc_ret)
        if "rel_diff" in want:
            out[f"{pair}/rel_diff"] = mia.rel_diff(out[f"{pair}/auc_min_k"], auc_ret)
    return out


def flatten(results: Mapping[str, SetResult]) -> dict[str, Any]:
    """Per-set metrics as ``<set>/<metric>`` keys."""
    return {f"{name}/{k}": v for name, res in results.items() for k, v in res.metrics.items()}


def aggregate_tofu_style(
    results: Mapping[str, SetResult],
    retain: Mapping[str, Any] | None,
    pairs: Mapping[str, tuple[str, str]],
    utility_components: Sequence[str],
) -> dict[str, Any]:
    """TOFU's aggregation (SPEC 6.1, 6.4): ``<set>/<metric>``, forget quality (KS test against
    the retain model's per-item forget truth ratios), each MIA pair's AUCs / privleak, and
    model utility (harmonic mean of ``utility_components``, when all are present)."""
    flat = flatten(results)
    forget = results.get("forget")
    retain_tr = (retain or {}).get("forget/truth_ratio")
    has_tr = forget is not None and all("truth_ratio" in row for row in forget.items)
    if forget is not None and retain_tr and has_tr:
        trs = [row["truth_ratio"] for row in forget.items]
        if len(trs) != len(retain_tr):
            raise ObliviateError(
                f"forget quality: {len(trs)} forget items but {len(retain_tr)} retain "
                "truth ratios; the retain values must come from the same forget split"
            )
        flat["forget_quality"] = tofu.forget_quality(trs, retain_tr)
    for pair, (members, others) in pairs.items():
        if members in results and others in results:
            flat |= mia_pair_metrics(pair, members, others, results, retain)
    if all(k in flat for k in utility_components):
        flat["model_utility"] = tofu.model_utility({k: flat[k] for k in utility_components})
    return flat
