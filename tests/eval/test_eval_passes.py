"""Model-side passes on a nano model: each equals a slow, obviously-correct reference loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from obliviate.eval.generation import HFGenerator, generate, make_generator
from obliviate.eval.gradnorm import gradnorm_scores
from obliviate.eval.memorisation_gen import (
    answer_encoding,
    extraction_likelihood_scores,
    memorisation_accuracy_scores,
)
from obliviate.eval.metrics import mia
from obliviate.eval.metrics.meow import el_overlap
from obliviate.eval.scoring import score
from obliviate.eval.settings import EvalConfig
from obliviate.eval.suites.base import EvalContext, evaluate_qa_set, scorer_perplexities
from obliviate.records import QAItem

ITEMS = [
    QAItem("What is the e-mail address of Mara Kolb?", "mara.kolb@lumen.org", id="a",
           paraphrased_answer="Mara Kolb's e-mail is mara.kolb@lumen.org",
           perturbed_answers=["jon.berg@lumen.org", "vesby@lumen.org"]),
    QAItem("Where was Mara Kolb born?", "Mara Kolb was born in Oslo.", id="b",
           paraphrased_answer="Oslo is where Mara Kolb was born.",
           perturbed_answers=["Mara Kolb was born in Vesby.", "Mara Kolb was born in Norland."]),
]  # fmt: skip


def _greedy_next(model, ids: list[int]) -> int:
    out = model.generate(torch.tensor([ids]), max_new_tokens=1, do_sample=False)
    return int(out[0, -1])


@pytest.mark.parametrize("template", [True, False])
def test_ma_one_pass_equals_per_prefix_greedy(nano_model, formatter, template: bool) -> None:
    fast = memorisation_accuracy_scores(nano_model, formatter, ITEMS, 8, "cpu", template)
    for item, value in zip(ITEMS, fast):
        enc = answer_encoding(formatter, item.question, item.answer, template)
        start = enc.labels.index(next(x for x in enc.labels if x != -100))
        answer = enc.input_ids[start:]
        hits = [
            _greedy_next(nano_model, enc.input_ids[: start + i]) == answer[i]
            for i in range(1, len(answer))
        ]
        assert value == pytest.approx(sum(hits) / len(hits))


def test_el_batched_equals_per_prefix_loop(nano_model, formatter, tokenizer) -> None:
    gen = HFGenerator(nano_model, tokenizer, batch_size=4)
    fast = extraction_likelihood_scores(formatter, ITEMS, gen, 6, template=True)
    for item, value in zip(ITEMS, fast):
        enc = answer_encoding(formatter, item.question, item.answer, True)
        start = enc.labels.index(next(x for x in enc.labels if x != -100))
        n = len(enc.input_ids) - start
        outs = [generate(nano_model, tokenizer, [enc.input_ids[: start + i]], 1, 6)[0]
                for i in range(1, n - 1)]  # fmt: skip
        assert value == pytest.approx(np.mean([el_overlap(o, item.answer) for o in outs]))


def test_gradnorm_matches_manual_backward(nano_model, formatter) -> None:
    enc = formatter.encode_pair(ITEMS[1].question, ITEMS[1].answer)
    (value,) = gradnorm_scores(nano_model, [enc])
    nano_model.zero_grad()
    ids = torch.tensor([enc.input_ids])
    logp = torch.log_softmax(nano_model(ids).logits[0, :-1], -1)
    labels = torch.tensor(enc.labels[1:])
    pos = (labels != -100).nonzero().flatten()[:-1]  # answer tokens, EOS label dropped
    (-logp[pos, labels[pos]].mean()).backward()
    norms = [p.grad.norm() for p in nano_model.parameters() if p.grad is not None]
    assert value == pytest.approx(float(torch.stack(norms).mean()), rel=1e-5)
    nano_model.zero_grad(set_to_none=True)


def test_qa_set_mia_and_memorisation_from_the_one_pass(nano_model, formatter, tokenizer) -> None:
    ctx = EvalContext(nano_model, tokenizer, formatter, 8, 6)
    wanted = {"mia_loss", "mia_zlib", "mia_min_k", "mia_min_k_plus_plus", "exact_memorisation",
              "extraction_strength", "memorisation_accuracy", "prob"}  # fmt: skip
    res = evaluate_qa_set(ITEMS, ctx, "closer_to_1", metrics=wanted)
    stats = score(nano_model, [formatter.encode_pair(i.question, i.answer) for i in ITEMS],
                  formatter.pad_id, dist_stats=True)  # fmt: skip
    for row, st, item in zip(res.items, stats, ITEMS):
        assert "generation" not in row and "truth_ratio" not in row  # no pass not asked for
        assert row["mia_loss"] == pytest.approx(st.nll_mean)
        enc = formatter.encode_pair(item.question, item.answer)  # paper: OU's decoded labels
        text = tokenizer.decode([x for x in enc.labels if x != -100], skip_special_tokens=True)
        assert row["mia_zlib"] == pytest.approx(mia.mia_zlib(st.logprobs, text))
        assert row["mia_min_k"] == pytest.approx(mia.mia_min_k(st.logprobs, 0.4))
        assert row["mia_min_k_plus_plus"] == pytest.approx(
            mia.mia_min_k_plus_plus(st.logprobs, st.mu, st.sigma2, 0.4)
        )
        assert row["memorisation_accuracy"] == pytest.approx(st.correct[1:-1].mean())
    assert set(res.metrics) == {"prob", "exact_memorisation", "extraction_strength",
                                "memorisation_accuracy"}  # fmt: skip


def test_default_metrics_are_the_foundations(nano_model, formatter, tokenizer) -> None:
    res = evaluate_qa_set(ITEMS, EvalContext(nano_model, tokenizer, formatter, 8, 4), "true_better")
    assert set(res.metrics) == {"prob", "token_accuracy", "normalised_prob", "truth_ratio",
                                "rouge_l_recall", "empty_rate", "degenerate_rate"}  # fmt: skip
    assert set(res.items[0]) == {"id", "question", "answer", "prob", "nll_mean", "token_accuracy",
                                 "normalised_prob", "truth_ratio", "generation", "rouge_l_recall",
                                 "empty_rate", "degenerate_rate"}  # fmt: skip


def test_scorer_perplexity_is_exp_of_response_nll(nano_model, formatter, tokenizer) -> None:
    ctx = EvalContext(
        nano_model,
        tokenizer,
        formatter,
        8,
        4,
        config=EvalConfig(protocol="fixed", scorer_model="self"),
    )
    (ppl, empty) = scorer_perplexities(ctx, [ITEMS[0].question] * 2, ["Mara Kolb", ""])
    prompt = formatter.prompt_ids(ITEMS[0].question)
    resp = tokenizer(" Mara Kolb", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(nano_model(torch.tensor([prompt + resp])).logits[0, :-1], -1)
    lp = [float(logp[len(prompt) - 1 + t, r]) for t, r in enumerate(resp)]
    assert ppl == pytest.approx(math.exp(-np.mean(lp)), rel=1e-5)
    assert math.isnan(empty)


def test_generator_backends(nano_model, tokenizer) -> None:
    prompts = [[tokenizer.bos_token_id, 5, 6], [tokenizer.bos_token_id, 7]]
    hf = make_generator("hf", nano_model, tokenizer, batch_size=2)
    assert hf(prompts, 4) == generate(nano_model, tokenizer, prompts, 2, 4)
    try:
        import vllm  # noqa: F401
    except ImportError:
        from obliviate.errors import ObliviateError

        with pytest.raises(ObliviateError, match="needs the vllm package"):
            make_generator("vllm", nano_model, tokenizer, model_path="/nonexistent")
    else:  # pragma: no cover - GPU machines with vllm
        pytest.skip("vllm installed: exercised by the GPU smoke run, not offline tests")


def test_reference_attack_against_any_model(nano_model, formatter, tokenizer) -> None:
    from obliviate.config import EvalConfig
    from obliviate.eval.suites.base import mia_pair_metrics
    from obliviate.models.tiny import build_tiny_model

    other = build_tiny_model(tokenizer, "nano", seed=1)
    cfg = EvalConfig(mia_reference_model="some/hub-id")
    ctx = EvalContext(nano_model, tokenizer, formatter, 8, 4, config=cfg,
                      load_model=lambda name: (other, tokenizer))  # fmt: skip
    want = {"mia_loss", "mia_reference"}
    res = {"forget": evaluate_qa_set(ITEMS[:1], ctx, "closer_to_1", metrics=want),
           "holdout": evaluate_qa_set(ITEMS[1:], ctx, "closer_to_1", metrics=want)}  # fmt: skip
    ref = score(
        other, [formatter.encode_pair(i.question, i.answer) for i in ITEMS], formatter.pad_id
    )
    rows = [res["forget"].items[0], res["holdout"].items[0]]
    assert [r["reference_nll"] for r in rows] == pytest.approx([s.nll_mean for s in ref])
    out = mia_pair_metrics("p", "forget", "holdout", res, None)  # no retain model needed
    diffs = [r["nll_mean"] - s.nll_mean for r, s in zip(rows, ref)]
    assert out["p/auc_reference"] == (1.0 if diffs[1] > diffs[0] else 0.0)
