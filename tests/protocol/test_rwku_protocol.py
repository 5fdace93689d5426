"""RWKU under ``eval.protocol=paper`` vs ``fixed`` (issue 19 items 2 and 9): NOANSWER, the batch
setting's pooling and the Min-K%++ σ² clamp, against RWKU's own code on the same input.

Golden values come from a fixture generator outside the repository that transcribes RWKU
(jinzhuoran/RWKU @ b8a03b3ce34fb4a96001df545a56558d75a078a3):
``LLaMA-Factory/src/llmtuner/eval/eval_forget.py`` lines 106-135 (empty -> "NOANSWER", strip,
``Rouge().get_scores(hyps, refs, avg=True)["rouge-l"]["r"]`` over one batch file, run with pltrdy
``rouge==1.0.1`` itself) and ``eval_mia.py`` lines 14-55 (loss, zlib, ``mink++_0.2`` with
``(token_log_probs - mu) / sigma.sqrt()``, ``np.mean`` over one file) on obliviate's nano model
(``build_tiny_model(train_tokenizer(conftest.TEXTS, 300), "nano", seed=0)``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from obliviate.eval.metrics import mia
from obliviate.eval.settings import EvalConfig
from obliviate.eval.suites import rwku as rwku_suite
from obliviate.eval.suites.base import EvalContext
from obliviate.formatting import Formatter
from obliviate.models.tiny import build_tiny_model
from obliviate.records import Passage, QAItem

# target A has one probe, target B three: pooling and per-target means differ
PROBES = [
    QAItem("q", "born in Oslo", subject="A", level=1, id="a1"),
    QAItem("q", "Oslo city", subject="B", level=1, id="b1"),
    QAItem("q", "the cello", subject="B", level=1, id="b2"),
    QAItem("q", "the cello player", subject="B", level=1, id="b3"),
]
OUTPUTS = ["He was born in Oslo", "", " Oslo  ", "cello"]
RWKU_POOLED_RECALL = 0.3333333333333333  # eval_forget.py get_scores(avg=True) over the file
ROW_RECALLS = [1.0, 0.0, 0.0, 1 / 3]  # the same, one pair at a time


def _ctx(protocol: str, model=None, tok=None, fmt=None) -> EvalContext:
    cfg = EvalConfig(protocol=protocol)
    return EvalContext(model, tok, fmt, config=cfg)  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", ["paper", "fixed"])
def test_probes_noanswer_and_batch_pooling(monkeypatch: pytest.MonkeyPatch, protocol: str) -> None:
    monkeypatch.setattr(rwku_suite, "rwku_generate", lambda ctx, prompts, n: OUTPUTS)
    monkeypatch.setattr(rwku_suite, "prompt_ids", lambda ctx, user, suffix, rec: [1])
    res = rwku_suite.evaluate_probes(PROBES, _ctx(protocol))
    assert [r["rouge_l_recall"] for r in res.items] == pytest.approx(ROW_RECALLS)
    assert [r["empty"] for r in res.items] == [False, True, False, False]
    suite = rwku_suite.RWKUSuite()
    suite.protocol = protocol
    flat = suite.aggregate({n: res for n in rwku_suite.PROBE_SETS}, None)
    if protocol == "paper":  # RWKU: one Rouge().get_scores(avg=True) over the batch's probes
        assert res.metrics["rouge_l_recall"] == pytest.approx(RWKU_POOLED_RECALL, abs=1e-12)
        assert flat["forget_all"] == pytest.approx(100 * RWKU_POOLED_RECALL)
    else:  # fixed: target A = 1.0, target B = (0 + 0 + 1/3) / 3, then their mean
        expected = (1.0 + (1 / 3) / 3) / 2
        assert res.metrics["rouge_l_recall"] == pytest.approx(expected, abs=1e-12)
        assert flat["forget_all"] == pytest.approx(100 * expected)


MIA_TEXTS = [
    ("Mara Kolb was born in Oslo.", "A"),
    ("Jon Berg works at Lumen.", "A"),
    ("The capital is Vesby.", "A"),
    ("Mara Kolb works as a carpenter in Norland.", "B"),
]
# eval_mia.py on the nano model: np.mean over the file's texts
RWKU_MIA = {"loss": -5.71040153503418, "zlib": -0.1644303834851837, "mink20": -1.2891752123832703}


@pytest.mark.parametrize("protocol", ["paper", "fixed"])
def test_mia_pooled_like_rwku(tokenizer, protocol: str) -> None:
    model = build_tiny_model(tokenizer, "nano", seed=0)
    fmt = Formatter(tokenizer, "raw-text", 64)
    records = [Passage(t, subject=s, id=str(i)) for i, (t, s) in enumerate(MIA_TEXTS)]
    res = rwku_suite.evaluate_mia(records, _ctx(protocol, model, tokenizer, fmt))
    rows = res.items
    if protocol == "paper":
        for key, value in RWKU_MIA.items():  # mink20: float32 (RWKU) vs float64 σ², 2e-5
            assert res.metrics[key] == pytest.approx(value, rel=1e-5 if key != "mink20" else 1e-4)
        assert res.metrics["fm"] == pytest.approx(-100 * RWKU_MIA["loss"], rel=1e-5)
    else:
        a, b = [r["loss"] for r in rows[:3]], rows[3]["loss"]
        assert res.metrics["loss"] == pytest.approx((np.mean(a) + b) / 2)
        assert abs(res.metrics["loss"] - RWKU_MIA["loss"]) > 1e-3


# one position with a uniform next-token distribution: σ² = 0 and lp − μ = 0 (eval_mia.py's
# torch float32 values of log_softmax / (probs * log_probs).sum(-1) for 5 fixed logit rows)
LP = [-0.342349648475647, -1.3862943649291992, -0.17551538348197937, -1.5425355434417725,
      -0.020012253895401955]  # fmt: skip
MU = [-0.8782811164855957, -1.3862943649291992, -0.55619877576828, -1.3800708055496216,
      -0.11907893419265747]  # fmt: skip
SIGMA2 = [0.7718682885169983, 0.0, 0.8265644311904907, 0.012394428253173828, 0.4855192005634308]


def test_min_k_plus_plus_unclamped_is_rwkus() -> None:
    # RWKU: z = 0/0 = NaN sorts last; k = 0.4 -> mean(-1.4593, 0.1422); k = 1.0 -> NaN
    raw = mia.rwku_min_k_plus_plus(LP, MU, SIGMA2, 0.4, sigma2_min=None)
    assert raw == pytest.approx(-0.6585643887519836, rel=1e-6)
    assert math.isnan(mia.rwku_min_k_plus_plus(LP, MU, SIGMA2, 1.0, sigma2_min=None))
    # fixed: σ² clamped at 1e-6 -> that z is 0 and sorts second
    clamped = mia.rwku_min_k_plus_plus(LP, MU, SIGMA2, 0.4)
    assert clamped == pytest.approx((-1.4593042135238647 + 0.0) / 2, rel=1e-6)


@pytest.mark.parametrize(("protocol", "expected"), [("paper", None), ("fixed", 1e-6)])
def test_mia_mink20_clamp_follows_protocol(
    tokenizer, monkeypatch: pytest.MonkeyPatch, protocol: str, expected: float | None
) -> None:
    seen: list[float | None] = []
    real = mia.rwku_min_k_plus_plus

    def spy(lp, mu, s2, k=0.2, sigma2_min=1e-6):
        seen.append(sigma2_min)
        return real(lp, mu, s2, k, sigma2_min)

    monkeypatch.setattr(rwku_suite.mia, "rwku_min_k_plus_plus", spy)
    model = build_tiny_model(tokenizer, "nano", seed=0)
    fmt = Formatter(tokenizer, "raw-text", 64)
    records = [Passage(MIA_TEXTS[0][0], subject="A", id="0")]
    rwku_suite.evaluate_mia(records, _ctx(protocol, model, tokenizer, fmt))
    assert seen == [expected]
