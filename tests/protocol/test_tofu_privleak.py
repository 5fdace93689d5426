"""Issue 19 item 10: privleak against an open-unlearning eval log uses the log's own retain
Min-K% AUC, as open-unlearning's ``privleak`` does (locuslab/open-unlearning @
d3d7cf9e6b3c125d16687d4232680d8d83548f1a ``src/evals/metrics/privacy.py`` lines 42-52: ``ref =
reference_logs["retain_model_logs"]["retain"]["agg_value"]``, the ``mia_min_k`` entry of
``configs/eval/tofu_metrics/privleak.yaml`` lines 9-14; ``ref_value`` 0.5 only when the log is
missing). Fixture values: that function transcribed (outside the repository) at forget AUC
0.5691, retain log AUC 0.492 -> -15.177165351343088, and at the fallback 0.5 -> -13.81999999723601.
Before the fix the log's AUC was not read and privleak came out -13.82.
"""

from __future__ import annotations

import json

import pytest

from obliviate.eval.metrics import mia
from obliviate.eval.suites.tofu import read_retain_values

OU_PRIVLEAK = -15.177165351343088  # privacy.py l. 42-52 at (0.5691, 0.492)
OU_FALLBACK = -13.81999999723601  # the same at ref_value 0.5


def test_privleak_from_an_open_unlearning_log_is_ous(tmp_path):
    log = {
        "forget_truth_ratio": {"value_by_index": {"0": {"score": 0.7}, "1": {"score": 0.4}}},
        "mia_min_k": {"agg_value": 0.492},
    }
    (tmp_path / "retain_log.json").write_text(json.dumps(log))
    values = read_retain_values(str(tmp_path / "retain_log.json"))
    got = mia.privleak(0.5691, values.get("mia/auc_min_k", 0.5))
    assert got == pytest.approx(OU_PRIVLEAK, abs=1e-9)
    assert mia.privleak(0.5691) == pytest.approx(OU_FALLBACK, abs=1e-9)
