"""Max-K% (Maini et al. 2024): the score by hand and its AUC through the synthkb suite."""

from __future__ import annotations

import numpy as np
import pytest

from obliviate.config import EvalConfig
from obliviate.eval.metrics import mia
from obliviate.eval.scoring import score
from obliviate.eval.suites.base import EvalContext
from obliviate.eval.suites.synthkb import SynthKBSuite
from obliviate.records import BenchmarkData, EvalSet, QAItem


def test_max_k_by_hand() -> None:
    # answer tokens -0.1, -2.0, -0.5, -3.0 and the EOS label -9.0 (dropped): k = 0.5 keeps
    # ⌊0.5·4⌋ = 2 largest, -0.1 and -0.5 -> score 0.3
    assert mia.mia_max_k([-0.1, -2.0, -0.5, -3.0, -9.0], k=0.5) == pytest.approx(0.3)
    # k = 0.1: max(1, ⌊0.4⌋) = 1 token, the largest
    assert mia.mia_max_k([-0.1, -2.0, -0.5, -3.0, -9.0], k=0.1) == pytest.approx(0.1)
    # EOS kept: 5 tokens, ⌊0.4·5⌋ = 2 -> (0.1 + 0.5) / 2
    assert mia.mia_max_k([-0.1, -2.0, -0.5, -3.0, -9.0], exclude_last=False) == pytest.approx(0.3)


MEMBERS = [
    QAItem("Where was Mara Kolb born?", "Mara Kolb was born in Oslo.", id="m1"),
    QAItem("What does Jon Berg do?", "Jon Berg builds boats in Vesby.", id="m2"),
]
OTHERS = [QAItem("Where was Ida Lund born?", "Ida Lund was born in Norland.", id="o1"),
          QAItem("What does Per Holm do?", "Per Holm paints ships.", id="o2"),
          QAItem("Who taught Kai Moe?", "Kai Moe was taught by Ola Sand.", id="o3")]  # fmt: skip


def test_max_k_auc_through_the_suite(nano_model, tokenizer, formatter) -> None:
    data = BenchmarkData("synthkb", [], [], [], [], {"forget": EvalSet("forget", MEMBERS),
                                                     "holdout": EvalSet("holdout", OTHERS)})  # fmt: skip
    ctx = EvalContext(nano_model, tokenizer, formatter, batch_size=4,
                      config=EvalConfig(metrics=["forget/mia_max_k"]))  # fmt: skip
    suite = SynthKBSuite()
    results = suite.evaluate(data, ctx, ["forget", "holdout"])
    flat = suite.aggregate(results, None)

    def by_hand(items: list[QAItem]) -> list[float]:
        enc = [formatter.encode_pair(r.question, r.answer) for r in items]
        stats = score(nano_model, enc, formatter.pad_id, 4, "cpu")
        out = []
        for st in stats:
            lp = np.sort(st.logprobs[:-1])[::-1]  # EOS label dropped, largest first
            out.append(float(-lp[: max(1, int(lp.size * 0.4))].mean()))
        return out

    members, others = by_hand(MEMBERS), by_hand(OTHERS)
    assert [r["mia_max_k"] for r in results["forget"].items] == pytest.approx(members)
    assert [r["mia_max_k"] for r in results["holdout"].items] == pytest.approx(others)
    # AUC = P(s_holdout > s_forget) + ½ P(tie), counted pair by pair
    pairs = [(o > m) + 0.5 * (o == m) for m in members for o in others]
    assert flat["forget_mia/auc_max_k"] == pytest.approx(sum(pairs) / len(pairs))
    assert not any(k.startswith("forget_mia/auc_") and k != "forget_mia/auc_max_k" for k in flat)
