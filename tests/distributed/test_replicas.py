"""SURE and MemFlex-iterative under 2 processes: masks taken from rank-averaged gradients keep
the two replicas bit-identical; without the averaging (the control) they diverge."""

from __future__ import annotations

import json

import pytest
from dist_launch import launch_script


@pytest.mark.slow
def test_grad_mask_replicas_stay_identical(tmp_path):
    out = tmp_path / "replicas.json"
    launch_script(tmp_path, 2, "replica_train.py", [str(out)])
    runs = {(r["method"], r["averaged"]): r for r in json.loads(out.read_text())}
    for method in ("sure", "memflex_iterative"):
        shipped, control = runs[(method, True)], runs[(method, False)]
        print(method, "elements differing: averaged", shipped["differ"], "control",
              control["differ"], "of", shipped["numel"])  # fmt: skip
        assert shipped["differ"] == 0 and shipped["max_diff"] == 0.0
        assert control["differ"] > 0  # the test can fail: per-rank masks do diverge
        assert len(shipped["log"]) == 4
    kept = [e["kept_rows"] for e in runs[("sure", True)]["log"][1:]]
    assert all(0.0 < k < 1.0 for k in kept)  # the mask is neither empty nor everything
    region = [e["region_tensors"] for e in runs[("memflex_iterative", True)]["log"][1:]]
    assert any(r > 0 for r in region)
