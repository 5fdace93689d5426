"""`obliviate report` for people: readable headers with the better direction, `--metrics`,
incomparable runs in separate tables with a warning, CSV / JSON / LaTeX, and the frontier of
`bench methods` (its CSV holds the plotted numbers)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from obliviate.cli import main
from obliviate.report.export import latex_escape, render
from obliviate.report.labels import direction, label, readable, select
from obliviate.report.plots import bench_frontier, have_matplotlib

SYNTH = {"benchmark": "synthkb", "method": "npo", "models": {
    "target": {"forget/rouge_l_recall": 0.99, "retain/rouge_l_recall": 0.98,
               "forget_quality": 6.9e-08, "model_utility": 0.69},
    "retain": {"forget/rouge_l_recall": 0.43, "retain/rouge_l_recall": 0.97,
               "forget_quality": 1.0, "model_utility": 0.66},
    "unlearned": {"forget/rouge_l_recall": 0.0727513227513, "retain/rouge_l_recall": 0.92,
                  "forget_quality": 0.34006567002537286, "model_utility": 0.6426884312409991}}}  # fmt: skip
KUD = {"benchmark": "knowundo", "method": "ga", "models": {
    "target": {"unlearn_success": 10.0, "retention_success": 95.0},
    "unlearned": {"unlearn_success": 80.0, "retention_success": 70.5}}}  # fmt: skip


def _run(root: Path, name: str, metrics: dict, model: str = "tiny", scope: str = "full") -> Path:
    d = root / name
    d.mkdir()
    (d / "metrics.json").write_text(json.dumps(metrics))
    cfg = {"model": {"name_or_path": model, "tiny_preset": "nano"}, "unlearn": {"scope": scope},
           "eval": {"protocol": "paper"}}  # fmt: skip
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    return d


def test_headers_are_readable_with_the_better_direction() -> None:
    assert readable("forget/rouge_l_recall") == "forget ROUGE-L recall"
    assert label("forget/rouge_l_recall") == "forget ROUGE-L recall ↓"
    assert label("neighbor/prob") == "neighbor prob. ↑"
    assert label("forget_quality") == "forget quality ↑"
    assert label("forget/empty_rate") == "forget empty rate ↓"
    assert direction("forget/truth_ratio") == "" and direction("forget_mia/auc_minkpp") == ""
    assert label("unlearn_success", {"unlearn_success": "Unlearn Success ↑"}) == "Unlearn Success ↑"
    keys = ["forget/prob", "retain/prob", "forget_quality", "forget/rouge_l_recall"]
    assert select(keys, "forget/*") == ["forget/prob", "forget/rouge_l_recall"]
    assert select(keys, "*prob,forget_quality") == ["forget/prob", "retain/prob", "forget_quality"]
    assert select(keys, "all") == keys
    assert latex_escape("forget_val ↓ 5%") == r"forget\_val $\downarrow$ 5\%"


def test_mixed_benchmarks_warn_and_split_into_two_tables(tmp_path, capsys) -> None:
    a = _run(tmp_path, "synth_npo", SYNTH)
    b = _run(tmp_path, "kud_ga", KUD, scope="lora")
    assert main(["report", str(a), str(b)]) == 0
    out, err = capsys.readouterr()
    assert "warning: these runs differ in benchmark" in err
    assert out.startswith("> warning: these runs differ in benchmark")
    heads = [line for line in out.splitlines() if line.startswith("| model |")]
    assert len(heads) == 2
    assert "forget quality ↑" in heads[0] and "Unlearn Success ↑" in heads[1]
    assert "| npo · full · tiny:nano (synth_npo) | 0.073 |" in out
    assert "| ga · lora · tiny:nano (kud_ga) | 80.000 | 70.500 |" in out
    rows = list(csv.DictReader(io.StringIO(render([a, b], "headline", "csv"))))
    assert [(r["table"], r["benchmark"], r["role"]) for r in rows] == [
        ("0", "synthkb", "target"), ("0", "synthkb", "retain"), ("0", "synthkb", "unlearned"),
        ("1", "knowundo", "target"), ("1", "knowundo", "unlearned")]  # fmt: skip
    assert float(rows[2]["forget_quality"]) == SYNTH["models"]["unlearned"]["forget_quality"]
    assert rows[4]["forget_quality"] == "" and float(rows[4]["unlearn_success"]) == 80.0
    # same benchmark, another base model: also split, and said why
    c = _run(tmp_path, "synth_other", SYNTH, model="org/other-model")
    render([a, c], "headline", "json")
    assert "differ in base model" in capsys.readouterr().err


def test_metrics_glob_and_json(tmp_path) -> None:
    a = _run(tmp_path, "synth_npo", SYNTH)
    data = json.loads(render([a], "forget*", "json"))
    [table] = data["tables"]
    assert [c["key"] for c in table["columns"]] == ["forget/rouge_l_recall", "forget_quality"]
    assert table["rows"][2]["metrics"]["forget_quality"] == 0.34006567002537286
    md = render([a], "retain/*", "md")
    assert md.splitlines()[2] == "| model | retain ROUGE-L recall ↑ |"


def test_bench_frontier_marks_target_and_retain(tmp_path) -> None:
    base = SYNTH["models"]
    rows = [{"method": m, "status": "ok", "metrics": {"forget_quality": fq, "model_utility": mu}}
            for m, fq, mu in (("ga", 0.01, 0.2), ("gd", 0.1, 0.6), ("npo", 0.3, 0.64))]  # fmt: skip
    rows.append({"method": "pdu", "status": "failed (2): x"})
    paths = bench_frontier(rows, base, tmp_path, "bench_methods_frontier")
    table = list(csv.DictReader((tmp_path / "bench_methods_frontier.csv").open()))
    assert [(r["label"], r["kind"]) for r in table] == [
        ("target", "target"), ("retain", "retain"), ("ga", "method"), ("gd", "method"),
        ("npo", "method")]  # fmt: skip
    assert [float(r["model_utility"]) for r in table] == [0.69, 0.66, 0.2, 0.6, 0.64]
    assert [float(r["forget_quality"]) for r in table] == [6.9e-08, 1.0, 0.01, 0.1, 0.3]
    if have_matplotlib():
        png = tmp_path / "bench_methods_frontier.png"
        assert png in paths and png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    else:
        pytest.skip("matplotlib is not installed: the CSV only")


def test_report_plots_of_a_comparison(tmp_path, capsys) -> None:
    a = _run(tmp_path, "synth_npo", SYNTH)
    gd = json.loads(json.dumps(SYNTH))
    gd["method"], gd["models"]["unlearned"]["forget_quality"] = "gd", 0.05
    b = _run(tmp_path, "synth_gd", gd)
    out = tmp_path / "plots"
    assert main(["report", str(a), str(b), "--plots", str(out)]) == 0
    rows = list(csv.DictReader((out / "frontier_0.csv").open()))
    assert [(r["label"], r["kind"], float(r["forget_quality"])) for r in rows] == [
        ("target (fine-tuned)", "target", 6.9e-08), ("retain (gold)", "retain", 1.0),
        ("npo · full · tiny:nano (synth_npo)", "method", 0.34006567002537286),
        ("gd · full · tiny:nano (synth_gd)", "method", 0.05)]  # fmt: skip
    assert list(rows[0])[2:] == ["model_utility", "forget_quality"]
    assert (out / "metrics_0.csv").is_file()
    if have_matplotlib():
        assert (out / "frontier_0.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
