"""Pure evaluation metrics (numbers or strings in, numbers out) and their registry.

Implementations: ``rouge``, ``tofu``, ``knowundo``, ``mia``, ``memorisation``, ``meow``,
``linguistic``, ``kfr_krr`` (SPEC 6); model-side passes: ``eval.gradnorm``,
``eval.memorisation_gen``, ``eval.memo``, ``eval.kfr_krr``. :data:`METRICS` is the one registry
(:class:`~.spec.MetricSpec`): the plans of ``eval.suites.plan``, the per-item dispatch of the
shared passes, each suite's accepted metrics and ``obliviate list metrics`` are derived from it.
To add a metric: its pure function in a module here and one entry below. lm-evaluation-harness
tasks are not a metric: they are chosen with ``eval.lm_eval.tasks`` (keys
``lmeval/<task>/<metric>``, ``eval.lmeval``).
"""

from __future__ import annotations

from . import degeneration, kfr_krr, knowundo, linguistic, memorisation, meow, mia, rouge, tofu
from .spec import Generated, MetricSpec, ScoredItem, nan_unless

MetricInfo = MetricSpec  # the registry's former name


def _rouge(key: str):
    return lambda g: rouge.rouge_scores([g.gen], [g.ref])[key][0]


def _on_hits(fn):
    """Per item: ``fn`` of the teacher-forced argmax hits (answer + EOS); left out below 2."""
    return lambda x: fn(x.st.correct) if x.st.n >= 2 else None


# Order matters: per-item keys and set means are written in this order.
_ENTRIES: tuple[MetricSpec, ...] = (
    MetricSpec(
        "prob",
        "P̃(a|q) = exp(mean_t log p(y_t|x, y_<t)), EOS included, mean over items",
        "TOFU; OU probability (SPEC 6.1)",
        "scoring", tofu.length_normalised_prob, default=True, mean=True,
    ),
    MetricSpec(
        "token_accuracy",
        "KnowUnDo acc = 100 · mean_i mean_t 1[argmax = y_t] over answer positions",
        "KnowUnDo run_eval_lora.py (SPEC 6.2)",
        "scoring", knowundo.token_accuracy, default=True, mean=True,
    ),
    MetricSpec(
        "normalised_prob",
        "P̃(a) / (P̃(a) + Σ_j P̃(a_j^pert) + 1e-10), mean over items",
        "TOFU; OU probability_w_options (SPEC 6.1)",
        "scoring", tofu.normalised_prob, default=True, mean=True,
    ),
    MetricSpec(
        "truth_ratio",
        "tr = P̃_wrong / P̃_correct; forget mean min(tr, 1/tr), others mean max(0, 1 − tr)",
        "TOFU; OU truth_ratio (SPEC 6.1)",
        "scoring", tofu.truth_ratio, default=True,
    ),
    MetricSpec(
        "rouge_l_recall",
        "ROUGE-L recall = LCS(gen, gt) / |gt tokens| (rouge_score, stemmed)",
        "TOFU; OU eval_rouge_recall (SPEC 6.1)",
        "generation", rouge.rouge_scores, _rouge("rougeL_recall"), default=True, mean=True,
    ),
    MetricSpec(
        "empty_rate",
        "share of greedy answers that are empty after stripping (never evidence of forgetting)",
        "obliviate (issue 13); RWKU flags empties as NOANSWER",
        "generation", degeneration.empty_flag, lambda g: degeneration.empty_flag(g.gen),
        default=True, mean=True,
    ),
    MetricSpec(
        "degenerate_rate",
        "share of non-empty answers that are non-text (< 50% letters/digits) or repeated-token "
        "(a token 4x in a row, or >= 8 tokens with distinct/total <= 0.25)",
        "obliviate (issue 13)",
        "generation", degeneration.degenerate_flag, lambda g: degeneration.degenerate_flag(g.gen),
        default=True, mean=True,
    ),
    MetricSpec(
        "rouge1_recall",
        "ROUGE-1 recall = |unigram overlap| / |gt tokens| (rouge_score, stemmed)",
        "TOFU; OU eval_rouge_recall (SPEC 6.1)",
        "generation", rouge.rouge_scores, _rouge("rouge1_recall"), mean=True,
    ),
    MetricSpec(
        "rouge_l_f1",
        "ROUGE-L F1 = 2PR / (P + R) of the LCS (rouge_score, stemmed)",
        "MUSE; OU eval_rouge_recall (SPEC 6.8)",
        "generation", rouge.rouge_scores, _rouge("rougeL_f1"), mean=True,
    ),
    MetricSpec(
        "rwku_rouge_l_recall",
        "pltrdy rouge 1.0.1 ROUGE-L recall = |∪ LCS words| / |unique ref words| ('.' sentences)",
        "RWKU eval_forget.py, pltrdy rouge==1.0.1 (SPEC 6.3)",
        "generation", rouge.rwku_rouge_l_recall,
        lambda g: rouge.rwku_rouge_l_recall([g.gen], [g.ref])[0], mean=True,
    ),
    MetricSpec(
        "exact_memorisation",
        "EM = (1/n) Σ_t 1[argmax p(·|x, y_<t) = y_t], teacher-forced, EOS excluded",
        "Tirumala et al. 2022; OU exact_memorization (SPEC 6.5)",
        "scoring", memorisation.exact_memorisation,
        _on_hits(memorisation.exact_memorisation),
        mean=True, passage=True,
    ),
    MetricSpec(
        "extraction_strength",
        "ES = 1 − k*/n, k* = first index of the all-correct suffix; if none: 0 (fixed), 1/n (OU)",
        "Wang et al. 2025; OU extraction_strength (SPEC 6.5, 8 #6)",
        "scoring", memorisation.extraction_strength,
        lambda x: memorisation.extraction_strength(x.st.correct, ou=x.protocol != "fixed")
        if x.st.n >= 2 else None,
        mean=True, passage=True,
    ),
    MetricSpec(
        "memorisation_accuracy",
        "MEOW MA = (1/(n−1)) Σ_{i≥1} 1[greedy next token after (q, a_<i) = a_i] (one forced pass)",
        "MEOW (Gu et al. 2024) memo/ma.py (SPEC 6.5)",
        "scoring", meow.memorisation_accuracy,
        lambda x: nan_unless(x.st.n >= 3, lambda: meow.memorisation_accuracy(x.st.correct[:-1]))
        if x.template else None,
        mean=True,
    ),
    MetricSpec(
        "extraction_likelihood",
        "MEOW EL = mean_{i=1}^{n−2} |words(gen_i) ∩ words(a)| / |words(gen_i)|, gen_i from (q, a_<i)",
        "MEOW (Gu et al. 2024) memo/el.py (SPEC 6.5)",
        "own", meow.extraction_likelihood, mean=True,
    ),
    MetricSpec(
        "memo",
        "MEOW MEMO = mean_j ROUGE-1 precision(a[j:], greedy(q + ' ' + a[:j])), j = 1, 6, 11, ...",
        "MEOW (Gu et al. 2024) memo/memo.py (SPEC 6.5, 5.2)",
        "own", mean=True,
    ),
    MetricSpec(
        "brunet_index",
        "Brunet BI = N^(V^−0.165) over lowercased word tokens (1000 if N = 0), mean over outputs",
        "ReLearn evals/evaluate.py calculate_BI (SPEC 6.6)",
        "generation", linguistic.brunet_index, lambda g: linguistic.brunet_index(g.gen),
        mean=True,
    ),
    MetricSpec(
        "honore_statistic",
        "Honoré HS = min(100 ln N / (1 − V₁/V + 0.1), 1e6) (0 if N ≤ 1), mean over outputs",
        "ReLearn evals/evaluate.py calculate_honores_statistic (SPEC 6.6)",
        "generation", linguistic.honore_statistic, lambda g: linguistic.honore_statistic(g.gen),
        mean=True,
    ),
    MetricSpec(
        "rttr",
        "root type-token ratio V / √N over lowercased word tokens, mean over outputs",
        "ReLearn evals/evaluate.py calculate_rttr (SPEC 7 TTR_F/R)",
        "generation", linguistic.rttr, lambda g: linguistic.rttr(g.gen), mean=True,
    ),
    MetricSpec(
        "fluency_entropy",
        "RWKU fluency = mean over outputs of ½ Σ_{n=2,3} w_n H_n, w = (2/3, 4/3), H in bits",
        "RWKU eval_fluency compute_n_gram_entropy (SPEC 6.3)",
        "generation", linguistic.fluency_entropy, lambda g: linguistic.fluency_entropy(g.gen),
        mean=True,
    ),
    MetricSpec(
        "kfr",
        "KFR = mean 1[NLI = contradiction ∨ E ≤ c], c = 0.5 if |ent_gt| ≤ 3 else 0.3",
        "ReLearn evals/evaluate.py compute_kfr (SPEC 6.6)",
        "own", kfr_krr.kfr, implies=("rouge_l_recall",), mean=True, uses_generation=True,
    ),
    MetricSpec(
        "krr",
        "KRR = mean 1[NLI ≠ contradiction ∧ E ≥ 0.3], E = entity matches (cos ≥ 0.8) / |ent_gt|",
        "ReLearn evals/evaluate.py compute_krr (SPEC 6.6)",
        "own", kfr_krr.krr, implies=("rouge_l_recall",), mean=True, uses_generation=True,
    ),
    MetricSpec(
        "linguistic_score",
        "LS = 3 / (1/PPL' + 1/BI' + 1/HS'), PPL' = 1/(1+PPL), BI' = 1/(1+BI), HS' = HS/(1+HS) of means",
        "ReLearn evals/evaluate.py compute_as + as_mean (SPEC 6.6)",
        "generation", linguistic.linguistic_summary,
        implies=("brunet_index", "honore_statistic", "rttr"),
    ),
    # membership inference: per-item loss-like scores, AUC per member / non-member pair
    MetricSpec(
        "mia_loss",
        "LOSS MIA score = NLL_mean of the answer (AUC forget vs holdout)",
        "Yeom et al. 2018; OU LOSSAttack (SPEC 6.4)",
        "scoring", mia.mia_loss, lambda x: mia.mia_loss(x.st.logprobs), attack=True, passage=True,
    ),
    MetricSpec(
        "mia_zlib",
        "ZLib MIA score = NLL_mean / len(zlib.compress(text)); text = decoded labels (paper, ou) "
        "or the answer string (fixed)",
        "Carlini et al. 2021; OU ZLIBAttack (SPEC 6.4)",
        "scoring", mia.mia_zlib, lambda x: mia.mia_zlib(x.st.logprobs, x.text),
        attack=True, passage=True,
    ),
    MetricSpec(
        "mia_min_k",
        "Min-K% score = −mean of the max(1, ⌊kn⌋) smallest lp_t, EOS excluded, k = 0.4",
        "Shi et al. 2024; OU MinKProbAttack (SPEC 6.4)",
        "scoring", mia.mia_min_k,
        lambda x: nan_unless(x.st.n >= 2, lambda: mia.mia_min_k(x.st.logprobs, x.min_k)),
        attack=True, passage=True,
    ),
    MetricSpec(
        "mia_min_k_plus_plus",
        "Min-K%++ score = −mean of the smallest z_t = (lp_t − μ_t)/σ_t, k = 0.4",
        "Zhang et al. 2024; OU MinKPlusPlusAttack (SPEC 6.4)",
        "scoring", mia.mia_min_k_plus_plus,
        lambda x: nan_unless(x.st.n >= 2, lambda: mia.mia_min_k_plus_plus(
            x.st.logprobs, x.st.mu, x.st.sigma2, x.min_k)),
        attack=True, dist=True, passage=True,
    ),
    MetricSpec(
        "mia_max_k",
        "Max-K% score = −mean of the max(1, ⌊kn⌋) largest lp_t, EOS excluded, k = eval.min_k",
        "Maini et al. 2024, LLM Dataset Inference (arXiv:2406.06443), Max-K% Prob",
        "scoring", mia.mia_max_k,
        lambda x: nan_unless(x.st.n >= 2, lambda: mia.mia_max_k(x.st.logprobs, x.min_k)),
        attack=True, passage=True,
    ),
    MetricSpec(
        "mia_reference",
        "Reference MIA score = NLL_mean(target) − NLL_mean(reference model)",
        "Carlini et al. 2021; OU ReferenceAttack (SPEC 6.4)",
        "cross", mia.mia_reference, attack=True, passage=True, per_set=False,
    ),
    MetricSpec(
        "mia_gradnorm",
        "GradNorm MIA score = mean over parameter tensors of ‖∇(−mean_t lp_t)‖₂, EOS excluded, bs 1",
        "Maini et al. 2024 / MIMIR; OU GradNormAttack (SPEC 6.4)",
        "own", attack=True, passage=True,
    ),
    MetricSpec(
        "auc",
        "MIA AUC = P(s_holdout > s_forget) + ½ P(tie) (roc_auc_score, forget = 0)",
        "OU mia_auc (SPEC 6.4)",
        "cross", mia.auc, implies=("mia_loss", "mia_zlib", "mia_min_k", "mia_min_k_plus_plus"),
        pair=True, per_set=False, output="auc_min_k",
    ),
    MetricSpec(
        "privleak",
        "privleak = ((1 − AUC) − (1 − AUC_ret)) / (1 − AUC_ret) × 100, Min-K% k = 0.4",
        "MUSE (Shi et al. 2024); OU privleak (SPEC 6.4)",
        "cross", mia.privleak, implies=("mia_min_k",), pair=True, per_set=False,
    ),
    MetricSpec(
        "rel_diff",
        "rel_diff = (AUC − AUC_ret) / AUC_ret × 100",
        "OU rel_diff (SPEC 6.4)",
        "cross", mia.rel_diff, implies=("mia_min_k",), pair=True, per_set=False,
    ),
    MetricSpec(
        "forget_quality",
        "KS two-sample p-value of forget tr, unlearned vs retain model",
        "TOFU; OU ks_test (SPEC 6.1)",
        "cross", tofu.forget_quality, implies=("truth_ratio",), default=True, per_set=False,
    ),
    MetricSpec(
        "model_utility",
        "harmonic mean of the 9 retain / RA / WF Prob, ROUGE, TR values (0 if any is 0)",
        "TOFU; OU hm_aggregate (SPEC 6.1)",
        "cross", tofu.model_utility,
        implies=("prob", "rouge_l_recall", "truth_ratio", "normalised_prob"),
        default=True, per_set=False,
    ),
    MetricSpec(
        "rwku_fm_rm",
        "RWKU FM / RM = 100 · mean NLL_mean on mia_forget / mia_retain",
        "RWKU paper Table 1, eval_mia.py (SPEC 6.3)",
        "scoring", mia.rwku_fm_rm, passage=True, output="rwku_fm_rm",
    ),
    # computed by a benchmark's own protocol, always, on the suites named
    MetricSpec(
        "ppl",
        "KnowUnDo ppl = exp(−mean_i mean_t log p(y_t|y_<t))",
        "KnowUnDo run_eval_lora.py (SPEC 6.2)",
        "protocol", knowundo.knowundo_scores, suites=("knowundo",),
    ),
    MetricSpec(
        "knowundo_unlearn_success",
        "Unlearn Success = 100 − acc(unlearn.val)",
        "KnowUnDo / MemFlex paper [inferred] (SPEC 6.2)",
        "protocol", knowundo.unlearn_success, suites=("knowundo",), per_set=False,
        output="unlearn_success",
    ),
    MetricSpec(
        "knowundo_retention_success",
        "Retention Success = acc(retention.val)",
        "KnowUnDo / MemFlex paper [inferred] (SPEC 6.2)",
        "protocol", knowundo.retention_success, suites=("knowundo",), per_set=False,
        output="retention_success",
    ),
    MetricSpec(
        "rwku_min_k",
        "RWKU Min-K% = mean of the max(1, ⌊kN⌋) smallest lp_t over all T−1 tokens",
        "RWKU eval_mia.py (SPEC 6.3)",
        "protocol", mia.rwku_min_k, suites=("rwku",), output="mink",
    ),
    MetricSpec(
        "rwku_min_k_plus_plus",
        "RWKU Min-K%++ = mean of the max(1, ⌊kN⌋) smallest z_t; stored mink20 is k = 0.2",
        "RWKU eval_mia.py (SPEC 6.3)",
        "protocol", mia.rwku_min_k_plus_plus, suites=("rwku",), output="mink20",
    ),
)  # fmt: skip

METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in _ENTRIES}


def describe_metrics() -> list[MetricSpec]:
    """Every registered metric, sorted by name."""
    return sorted(METRICS.values(), key=lambda spec: spec.name)


def select(**flags: object) -> tuple[str, ...]:
    """Names of the metrics whose fields equal ``flags`` (``kind`` may be a tuple), in
    registry order: ``select(attack=True)``, ``select(kind=("scoring", "generation"))``."""

    def ok(spec: MetricSpec) -> bool:
        for key, want in flags.items():
            have = getattr(spec, key)
            if key == "kind" and isinstance(want, tuple) and have not in want:
                return False
            if not (key == "kind" and isinstance(want, tuple)) and have != want:
                return False
        return True

    return tuple(spec.name for spec in _ENTRIES if ok(spec))


__all__ = ["METRICS", "Generated", "MetricInfo", "MetricSpec", "ScoredItem", "describe_metrics",
           "select"]  # fmt: skip
