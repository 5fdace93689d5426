"""``eval.metrics`` in the KnowUnDo and RWKU suites: extra metrics from the suites' own passes,
the RWKU MIA pair's AUC, and explicit errors for what a suite cannot compute."""

from __future__ import annotations

import numpy as np
import pytest

from obliviate.config import EvalConfig
from obliviate.errors import ObliviateError
from obliviate.eval.metrics import linguistic, mia
from obliviate.eval.metrics.rouge import rouge_scores
from obliviate.eval.suites import rwku as rwku_suite
from obliviate.eval.suites.base import EvalContext
from obliviate.eval.suites.knowundo import KnowUnDoSuite
from obliviate.eval.suites.rwku import RWKUSuite
from obliviate.records import BenchmarkData, EvalSet, Passage, QAItem

KUD = [
    QAItem("What is the e-mail address of Mara Kolb?", "mara.kolb@lumen.org", id="a"),
    QAItem("Where was Mara Kolb born?", "Mara Kolb was born in Oslo.", id="b"),
]
PROBES = [
    QAItem("Mara Kolb was born in ___.", "Oslo", subject="Mara Kolb", kind="fill_blank", level=1),
    QAItem(
        "Where does Jon Berg work?", "Lumen Works", subject="Jon Berg", kind="question", level=2
    ),
]
MEMBERS = [Passage("Mara Kolb was born in Oslo on 12 March 1961.", "Mara Kolb", f"m{i}") for i in range(3)]  # fmt: skip
OTHERS = [Passage("The capital of Norland is Vesby.", "Mara Kolb", f"o{i}") for i in range(2)]


def _ctx(model, tokenizer, formatter, metrics: list[str]) -> EvalContext:
    return EvalContext(model, tokenizer, formatter, batch_size=4, max_new_tokens=6,
                       config=EvalConfig(metrics=metrics), role="target")  # fmt: skip


def _data(**sets) -> BenchmarkData:
    evals = {name: EvalSet(name, recs) for name, recs in sets.items()}
    return BenchmarkData("test", [], [], [], [], evals, extras={"direct_prompt": "Be careful. "})


def test_knowundo_adds_metrics_from_its_own_pass(nano_model, tokenizer, formatter):
    data = _data(unlearn_val=KUD, retention_val=KUD)
    suite = KnowUnDoSuite()
    plain = suite.evaluate(data, _ctx(nano_model, tokenizer, formatter, []), ["unlearn_val"])
    ctx = _ctx(
        nano_model, tokenizer, formatter, ["exact_memorisation", "mia_loss", "rouge1_recall"]
    )
    extra = suite.evaluate(data, ctx, ["unlearn_val", "retention_val_dp"])
    res = extra["unlearn_val"]
    assert res.metrics["acc"] == plain["unlearn_val"].metrics["acc"]  # the same scoring pass
    assert set(plain["unlearn_val"].items[0]) == {"id", "question", "answer", "token_accuracy",
                                                  "mean_logprob", "n_tokens"}  # fmt: skip
    for row in res.items:
        assert {"exact_memorisation", "mia_loss", "generation", "rouge1_recall"} <= set(row)
    ems = [row["exact_memorisation"] for row in res.items]
    assert res.metrics["exact_memorisation"] == pytest.approx(np.mean(ems))
    dp = extra["retention_val_dp"]
    assert dp.metrics["rouge1_recall"] == pytest.approx(
        np.mean([r["rouge1_recall"] for r in dp.items])
    )
    suite.evaluate(data, _ctx(nano_model, tokenizer, formatter, ["all"]), ["unlearn_val"])
    for bad in (["truth_ratio"], ["forget_quality"], ["unlearn_val/normalised_prob"]):
        with pytest.raises(ObliviateError, match="cannot be computed on"):
            suite.evaluate(data, _ctx(nano_model, tokenizer, formatter, bad), ["unlearn_val"])


def test_rwku_probe_and_mia_metrics_and_the_mia_auc(nano_model, tokenizer, formatter):
    data = _data(forget_fb=PROBES, mia_forget=MEMBERS, mia_retain=OTHERS)
    suite = RWKUSuite()
    metrics = ["rouge1_recall", "brunet_index", "mia_min_k", "auc"]
    results = suite.evaluate(data, _ctx(nano_model, tokenizer, formatter, metrics),
                             ["forget_fb", "mia_forget", "mia_retain"])  # fmt: skip
    probes = results["forget_fb"]
    for row in probes.items:
        gen = row["generation"]
        assert row["rouge1_recall"] == rouge_scores([gen], [row["answer"]])["rouge1_recall"][0]
        assert row["brunet_index"] == linguistic.brunet_index(gen)
    # RWKU's own (pltrdy) score is kept, a mean per target
    assert probes.metrics["rouge_l_recall"] == rwku_suite.per_target_mean(
        probes.items, "rouge_l_recall"
    )
    flat = suite.aggregate(results, None)
    members = [row["mia_min_k"] for row in results["mia_forget"].items]
    others = [row["mia_min_k"] for row in results["mia_retain"].items]
    assert flat["mia/auc_min_k"] == pytest.approx(mia.auc(members, others))
    assert flat["mia/auc_loss"] == pytest.approx(
        mia.auc([r["mia_loss"] for r in results["mia_forget"].items],
                [r["mia_loss"] for r in results["mia_retain"].items])
    )  # fmt: skip
    assert flat["mia_fm"] == flat["mia_forget/fm"]  # the paper's columns are unchanged
    nlls = [row["nll_mean"] for row in results["mia_forget"].items]
    assert flat["mia_fm"] == pytest.approx(mia.rwku_fm_rm(nlls))  # one subject: 100 · mean NLL
    with pytest.raises(ObliviateError, match="set 'forget_fb' of the rwku suite"):
        suite.evaluate(data, _ctx(nano_model, tokenizer, formatter, ["forget_fb/mia_loss"]),
                       ["forget_fb"])  # fmt: skip
