"""Recovery (attacks.score), the robustness table (report.robustness) and the robustness
column of ``obliviate bench methods``."""

from __future__ import annotations

import re

from obliviate.attacks.score import recovery, score_variant
from obliviate.bench import METRIC_COLUMNS, render_table
from obliviate.io import write_json
from obliviate.report import robustness


def test_recovery_is_the_share_of_the_forgotten_gap_that_comes_back():
    assert recovery(0.55, 0.1, 1.0) == (0.55 - 0.1) / (1.0 - 0.1)
    assert recovery(0.1, 0.1, 1.0) == 0.0 and recovery(1.0, 0.1, 1.0) == 1.0
    assert recovery(0.5, 0.3, 0.3) is None  # nothing was forgotten
    assert recovery(None, 0.1, 1.0) is None and recovery(float("nan"), 0.1, 1.0) is None


def test_robustness_table_and_worst_attack(tmp_path):
    m = "forget/rouge_l_recall"
    clean = {"target": {m: 0.9}, "unlearned": {m: 0.1}, "retain": {m: 0.2}}
    rows = {
        "rtn4": score_variant(m, clean, {"unlearned": {m: 0.5}, "retain": {m: 0.26}}),
        "rtn8": score_variant(m, clean, {"unlearned": {m: 0.1}, "retain": {m: 0.2}}),
    }
    assert rows["rtn4"]["recovery"] == (0.5 - 0.1) / 0.8
    assert rows["rtn4"]["gold_recovery"] == (0.26 - 0.1) / 0.8
    assert abs(rows["rtn4"]["delta_retain"] - 0.06) < 1e-12
    write_json(tmp_path / "attacks" / "quantize" / "metrics.json", {"recovery": rows})
    lines = robustness.table(tmp_path).splitlines()
    assert lines[2] == (f"| quantize/rtn4 | {m} | 0.900 | 0.100 | 0.500 | 0.400 | 0.500 | 0.200 "
                        "| 0.260 | 0.060 |")  # fmt: skip
    assert robustness.worst(tmp_path) == ("quantize/rtn4", 0.5)
    assert robustness.report_lines(tmp_path / "none") == []
    # a rerun with other unlearning settings: the old model's attacks are not shown
    doc = {"recovery": rows, "unlearn_fingerprint": "aaaa"}
    write_json(tmp_path / "attacks" / "quantize" / "metrics.json", doc)
    write_json(tmp_path / "stages" / "unlearn.json", {"fingerprint": "aaaa"})
    assert robustness.worst(tmp_path) == ("quantize/rtn4", 0.5)
    write_json(tmp_path / "stages" / "unlearn.json", {"fingerprint": "bbbb"})
    assert robustness.table(tmp_path) == "" and robustness.worst(tmp_path) == (None, None)


def test_bench_table_has_the_robustness_column_when_methods_were_attacked():
    ok = {"method": "npo", "status": "ok", "settings": "lr 0.001",
          "metrics": dict.fromkeys([k for k, _ in METRIC_COLUMNS], 0.25), "unlearn_seconds": 3.0,
          "training": {"steps": 5, "tokens_per_s": 10.0, "peak_memory_mb": 5.0,
                       "trainable_params": 10}, "robustness": "0.500 (quantize/rtn4)"}  # fmt: skip
    plain = {**ok, "method": "ga", "robustness": None}
    lines = render_table([ok, plain], {"target": {}}, "RSS").splitlines()
    assert "worst recovery ↓" in lines[0]
    assert {len(re.split(r"(?<!\\)\|", line)) for line in lines} == {len(lines[0].split("|"))}
    assert "| 0.500 (quantize/rtn4) |" in lines[3] and lines[4].startswith("| ga |")
    assert "worst recovery" not in render_table([plain], {}, "RSS")


def test_every_qa_benchmark_has_a_forget_side_its_suite_evaluates():
    from obliviate.attacks.score import FORGET_SIDE, forget_side
    from obliviate.eval.suites import get_suite

    for name, (sets, metric) in FORGET_SIDE.items():
        suite = get_suite(name)
        assert forget_side(suite, [], "") == (sets, metric)
        assert set(sets) <= set(suite.sets), name
        assert metric in suite.headline or metric.split("/")[0] in sets, name
