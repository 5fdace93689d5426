"""MIA AUC / privleak / Reference across sets and the retain model's values, on fixed scores."""

from __future__ import annotations

import pytest

from obliviate.errors import ObliviateError
from obliviate.eval.suites.base import SetResult, mia_pair_metrics, retain_values
from obliviate.eval.suites.synthkb import SynthKBSuite

WANT = frozenset({"mia_loss", "mia_min_k", "mia_reference", "privleak", "rel_diff"})


def _results(member_loss, other_loss, member_nll, other_nll) -> dict[str, SetResult]:
    def rows(losses, nlls):
        return [{"mia_loss": x, "mia_min_k": x, "nll_mean": n} for x, n in zip(losses, nlls)]

    return {
        "forget": SetResult(items=rows(member_loss, member_nll), wanted=WANT),
        "holdout": SetResult(items=rows(other_loss, other_nll), wanted=WANT),
    }


def test_auc_privleak_and_reference_on_fixed_scores() -> None:
    res = _results([0.1, 0.5, 0.9], [0.4, 1.0], [1.0, 2.0, 3.0], [2.0, 2.5])
    retain = {"forget/nll_mean": [1.5, 1.0, 3.5], "holdout/nll_mean": [1.0, 2.5],
              "forget_mia/auc_min_k": 0.75}  # fmt: skip
    out = mia_pair_metrics("forget_mia", "forget", "holdout", res, retain)
    # pairs (holdout > forget): 0.4 beats 0.1; 1.0 beats all three -> 4 of 6
    assert out["forget_mia/auc_loss"] == pytest.approx(4 / 6)
    assert out["forget_mia/auc_min_k"] == pytest.approx(4 / 6)
    # privleak = ((1 - 2/3) - (1 - 0.75)) / (1 - 0.75) * 100 = (1/3 - 1/4) / (1/4) * 100 = 33.33
    assert out["forget_mia/privleak"] == pytest.approx(100 / 3, abs=1e-6)
    # rel_diff = (2/3 - 0.75) / 0.75 * 100 = -11.11
    assert out["forget_mia/rel_diff"] == pytest.approx(-100 / 9, abs=1e-6)
    # reference scores: forget -0.5, 1.0, -0.5; holdout 1.0, 0.0
    # pairs: 1.0 > -0.5 (x2), tie with 1.0 (1/2); 0.0 > -0.5 (x2) -> 4.5 of 6
    assert [r["mia_reference"] for r in res["forget"].items] == [-0.5, 1.0, -0.5]
    assert out["forget_mia/auc_reference"] == pytest.approx(4.5 / 6)


def test_without_retain_model_privleak_uses_half() -> None:
    res = _results([0.1, 0.2], [0.3, 0.4], [1, 1], [1, 1])
    out = mia_pair_metrics("forget_mia", "forget", "holdout", res, None)
    assert out["forget_mia/auc_min_k"] == 1.0
    assert out["forget_mia/privleak"] == pytest.approx(-100.0)  # ((0) - 0.5) / 0.5 * 100
    assert "forget_mia/auc_reference" not in out


def test_retain_values_and_its_own_reference() -> None:
    res = _results([0.1, 0.5], [0.4, 1.0], [1.0, 2.0], [2.0, 2.5])
    res["forget"].items[0]["truth_ratio"] = 0.5
    res["forget"].items[1]["truth_ratio"] = 2.0
    values = retain_values(res, {"forget_mia": ("forget", "holdout")})
    assert values["forget/truth_ratio"] == [0.5, 2.0]
    assert values["holdout/nll_mean"] == [2.0, 2.5]
    assert values["forget_mia/auc_min_k"] == pytest.approx(3 / 4)
    assert "holdout/truth_ratio" not in values
    # the retain model against its own values: Reference scores 0 -> AUC 0.5, privleak 0
    res["forget"].wanted = res["forget"].wanted | {"forget_quality"}
    flat = SynthKBSuite().aggregate(res, values)
    assert flat["forget_mia/auc_reference"] == 0.5
    assert flat["forget_mia/privleak"] == pytest.approx(0.0, abs=1e-6)
    assert flat["forget_quality"] == 1.0


def test_reference_needs_matching_items() -> None:
    res = _results([0.1, 0.5], [0.4], [1.0, 2.0], [2.0])
    with pytest.raises(ObliviateError, match="retain_values.json has 3"):
        mia_pair_metrics("p", "forget", "holdout", res, {"forget/nll_mean": [1, 2, 3]})
