"""Pure evaluation metrics (numbers or strings in, numbers out) and their registry.

Implementations: ``rouge``, ``tofu``, ``knowundo``, ``mia``, ``memorisation``, ``meow``,
``linguistic``, ``kfr_krr`` (SPEC 6); model-side passes: ``eval.gradnorm``,
``eval.memorisation_gen``, ``eval.memo``, ``eval.kfr_krr``, ``eval.lmeval``. Which of them an
evaluation computes is chosen with ``eval.metrics`` (``eval.suites.plan``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    """One user-facing metric: registry name, one-line formula, and where it comes from."""

    name: str
    description: str
    source: str


_ENTRIES = (
    MetricInfo(
        "rouge_l_recall",
        "ROUGE-L recall = LCS(gen, gt) / |gt tokens| (rouge_score, stemmed)",
        "TOFU; OU eval_rouge_recall (SPEC 6.1)",
    ),
    MetricInfo(
        "rouge1_recall",
        "ROUGE-1 recall = |unigram overlap| / |gt tokens| (rouge_score, stemmed)",
        "TOFU; OU eval_rouge_recall (SPEC 6.1)",
    ),
    MetricInfo(
        "rouge_l_f1",
        "ROUGE-L F1 = 2PR / (P + R) of the LCS (rouge_score, stemmed)",
        "MUSE; OU eval_rouge_recall (SPEC 6.8)",
    ),
    MetricInfo(
        "rwku_rouge_l_recall",
        "pltrdy rouge 1.0.1 ROUGE-L recall = |∪ LCS words| / |unique ref words| ('.' sentences)",
        "RWKU eval_forget.py, pltrdy rouge==1.0.1 (SPEC 6.3)",
    ),
    MetricInfo(
        "prob",
        "P̃(a|q) = exp(mean_t log p(y_t|x, y_<t)), EOS included, mean over items",
        "TOFU; OU probability (SPEC 6.1)",
    ),
    MetricInfo(
        "normalised_prob",
        "P̃(a) / (P̃(a) + Σ_j P̃(a_j^pert) + 1e-10), mean over items",
        "TOFU; OU probability_w_options (SPEC 6.1)",
    ),
    MetricInfo(
        "truth_ratio",
        "tr = P̃_wrong / P̃_correct; forget mean min(tr, 1/tr), others mean max(0, 1 − tr)",
        "TOFU; OU truth_ratio (SPEC 6.1)",
    ),
    MetricInfo(
        "forget_quality",
        "KS two-sample p-value of forget tr, unlearned vs retain model",
        "TOFU; OU ks_test (SPEC 6.1)",
    ),
    MetricInfo(
        "model_utility",
        "harmonic mean of the 9 retain / RA / WF Prob, ROUGE, TR values (0 if any is 0)",
        "TOFU; OU hm_aggregate (SPEC 6.1)",
    ),
    MetricInfo(
        "token_accuracy",
        "KnowUnDo acc = 100 · mean_i mean_t 1[argmax = y_t] over answer positions",
        "KnowUnDo run_eval_lora.py (SPEC 6.2)",
    ),
    MetricInfo(
        "knowundo_unlearn_success",
        "Unlearn Success = 100 − acc(unlearn.val)",
        "KnowUnDo / MemFlex paper [inferred] (SPEC 6.2)",
    ),
    MetricInfo(
        "knowundo_retention_success",
        "Retention Success = acc(retention.val)",
        "KnowUnDo / MemFlex paper [inferred] (SPEC 6.2)",
    ),
    MetricInfo(
        "ppl",
        "KnowUnDo ppl = exp(−mean_i mean_t log p(y_t|y_<t))",
        "KnowUnDo run_eval_lora.py (SPEC 6.2)",
    ),
    MetricInfo(
        "mia_loss",
        "LOSS MIA score = NLL_mean of the answer (AUC forget vs holdout)",
        "Yeom et al. 2018; OU LOSSAttack (SPEC 6.4)",
    ),
    MetricInfo(
        "mia_zlib",
        "ZLib MIA score = NLL_mean / len(zlib.compress(answer bytes))",
        "Carlini et al. 2021; OU ZLIBAttack (SPEC 6.4)",
    ),
    MetricInfo(
        "mia_min_k",
        "Min-K% score = −mean of the max(1, ⌊kn⌋) smallest lp_t, EOS excluded, k = 0.4",
        "Shi et al. 2024; OU MinKProbAttack (SPEC 6.4)",
    ),
    MetricInfo(
        "mia_min_k_plus_plus",
        "Min-K%++ score = −mean of the smallest z_t = (lp_t − μ_t)/σ_t, k = 0.4",
        "Zhang et al. 2024; OU MinKPlusPlusAttack (SPEC 6.4)",
    ),
    MetricInfo(
        "mia_reference",
        "Reference MIA score = NLL_mean(target) − NLL_mean(reference model)",
        "Carlini et al. 2021; OU ReferenceAttack (SPEC 6.4)",
    ),
    MetricInfo(
        "auc",
        "MIA AUC = P(s_holdout > s_forget) + ½ P(tie) (roc_auc_score, forget = 0)",
        "OU mia_auc (SPEC 6.4)",
    ),
    MetricInfo(
        "privleak",
        "privleak = ((1 − AUC) − (1 − AUC_ret)) / (1 − AUC_ret) × 100, Min-K% k = 0.4",
        "MUSE (Shi et al. 2024); OU privleak (SPEC 6.4)",
    ),
    MetricInfo(
        "rel_diff",
        "rel_diff = (AUC − AUC_ret) / AUC_ret × 100",
        "OU rel_diff (SPEC 6.4)",
    ),
    MetricInfo(
        "rwku_min_k",
        "RWKU Min-K% = mean of the max(1, ⌊kN⌋) smallest lp_t over all T−1 tokens",
        "RWKU eval_mia.py (SPEC 6.3)",
    ),
    MetricInfo(
        "rwku_min_k_plus_plus",
        "RWKU Min-K%++ = mean of the max(1, ⌊kN⌋) smallest z_t; stored mink20 is k = 0.2",
        "RWKU eval_mia.py (SPEC 6.3)",
    ),
    MetricInfo(
        "rwku_fm_rm",
        "RWKU FM / RM = 100 · mean NLL_mean on mia_forget / mia_retain",
        "RWKU paper Table 1, eval_mia.py (SPEC 6.3)",
    ),
    MetricInfo(
        "exact_memorisation",
        "EM = (1/n) Σ_t 1[argmax p(·|x, y_<t) = y_t], teacher-forced, EOS excluded",
        "Tirumala et al. 2022; OU exact_memorization (SPEC 6.5)",
    ),
    MetricInfo(
        "extraction_strength",
        "ES = 1 − k*/n, k* = first index of the all-correct suffix; 0 if none (OU: 1/n)",
        "Wang et al. 2025; OU extraction_strength (SPEC 6.5, 8 #6)",
    ),
)

_ENTRIES += (
    MetricInfo(
        "mia_gradnorm",
        "GradNorm MIA score = mean over parameter tensors of ‖∇(−mean_t lp_t)‖₂, EOS excluded, bs 1",
        "Maini et al. 2024 / MIMIR; OU GradNormAttack (SPEC 6.4)",
    ),
    MetricInfo(
        "memorisation_accuracy",
        "MEOW MA = (1/(n−1)) Σ_{i≥1} 1[greedy next token after (q, a_<i) = a_i] (one forced pass)",
        "MEOW (Gu et al. 2024) memo/ma.py (SPEC 6.5)",
    ),
    MetricInfo(
        "extraction_likelihood",
        "MEOW EL = mean_{i=1}^{n−2} |words(gen_i) ∩ words(a)| / |words(gen_i)|, gen_i from (q, a_<i)",
        "MEOW (Gu et al. 2024) memo/el.py (SPEC 6.5)",
    ),
    MetricInfo(
        "memo",
        "MEOW MEMO = mean_j ROUGE-1 precision(a[j:], greedy(q + ' ' + a[:j])), j = 1, 6, 11, ...",
        "MEOW (Gu et al. 2024) memo/memo.py (SPEC 6.5, 5.2)",
    ),
    MetricInfo(
        "brunet_index",
        "Brunet BI = N^(V^−0.165) over lowercased word tokens (1000 if N = 0), mean over outputs",
        "ReLearn evals/evaluate.py calculate_BI (SPEC 6.6)",
    ),
    MetricInfo(
        "honore_statistic",
        "Honoré HS = min(100 ln N / (1 − V₁/V + 0.1), 1e6) (0 if N ≤ 1), mean over outputs",
        "ReLearn evals/evaluate.py calculate_honores_statistic (SPEC 6.6)",
    ),
    MetricInfo(
        "rttr",
        "root type-token ratio V / √N over lowercased word tokens, mean over outputs",
        "ReLearn evals/evaluate.py calculate_rttr (SPEC 7 TTR_F/R)",
    ),
    MetricInfo(
        "linguistic_score",
        "LS = 3 / (1/PPL' + 1/BI' + 1/HS'), PPL' = 1/(1+PPL), BI' = 1/(1+BI), HS' = HS/(1+HS) of means",
        "ReLearn evals/evaluate.py compute_as + as_mean (SPEC 6.6)",
    ),
    MetricInfo(
        "fluency_entropy",
        "RWKU fluency = mean over outputs of ½ Σ_{n=2,3} w_n H_n, w = (2/3, 4/3), H in bits",
        "RWKU eval_fluency compute_n_gram_entropy (SPEC 6.3)",
    ),
    MetricInfo(
        "kfr",
        "KFR = mean 1[NLI = contradiction ∨ E ≤ c], c = 0.5 if |ent_gt| ≤ 3 else 0.3",
        "ReLearn evals/evaluate.py compute_kfr (SPEC 6.6)",
    ),
    MetricInfo(
        "krr",
        "KRR = mean 1[NLI ≠ contradiction ∧ E ≥ 0.3], E = entity matches (cos ≥ 0.8) / |ent_gt|",
        "ReLearn evals/evaluate.py compute_krr (SPEC 6.6)",
    ),
    MetricInfo(
        "lm_eval",
        "any lm-evaluation-harness task (eval.lm_eval.tasks), keys lmeval/<task>/<metric>",
        "EleutherAI lm-evaluation-harness simple_evaluate (optional extra lmeval)",
    ),
)

METRICS: dict[str, MetricInfo] = {info.name: info for info in _ENTRIES}


def describe_metrics() -> list[MetricInfo]:
    """Every registered metric, sorted by name."""
    return sorted(METRICS.values(), key=lambda info: info.name)
