"""Report tables: number formatting, the exact markdown of a known run (the quickstart's), the
several-run comparison with the suite's paper labels, and the errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from obliviate.errors import ObliviateError
from obliviate.report.tables import (
    _fmt,
    column_labels,
    headline_columns,
    markdown_table,
    render_report,
    write_report,
)

# the quickstart run's (configs/quickstart.yaml) headline values and timings, full precision
QUICKSTART = {
    "benchmark": "synthkb",
    "method": "npo",
    "models": {
        "target": {"forget/rouge_l_recall": 0.9907407407407407, "forget_val/rouge_l_recall": 1.0,
                   "retain/rouge_l_recall": 0.99375, "neighbor/rouge_l_recall": 1.0,
                   "world/rouge_l_recall": 1.0, "forget/prob": 0.976273654446676,
                   "forget/truth_ratio": 0.5863236839799743, "forget_quality": 6.943660530770359e-08,
                   "model_utility": 0.6944528329814482, "retain/prob": 0.97},
        "retain": {"forget/rouge_l_recall": 0.43486952861952866,
                   "forget_val/rouge_l_recall": 0.44223484848484845,
                   "retain/rouge_l_recall": 0.9708333333333333,
                   "neighbor/rouge_l_recall": 0.9678030303030304, "world/rouge_l_recall": 0.9375,
                   "forget/prob": 0.012676983491787452, "forget/truth_ratio": 0.7427585049739711,
                   "forget_quality": 1.0, "model_utility": 0.6591635264675311},
        "unlearned": {"forget/rouge_l_recall": 0.07275132275132275,
                      "forget_val/rouge_l_recall": 0.057291666666666664,
                      "retain/rouge_l_recall": 0.9237121212121212,
                      "neighbor/rouge_l_recall": 0.9519054178145087,
                      "world/rouge_l_recall": 0.7886904761904762,
                      "forget/prob": 0.00021036183304603388,
                      "forget/truth_ratio": 0.6911892973310376,
                      "forget_quality": 0.34006567002537286, "model_utility": 0.6426884312409991},
    },
    "timings": {"finetune_target": 44.151, "finetune_retain": 40.671, "unlearn": 2.138,
                "load_benchmark": 0.022, "eval_retain": 2.419, "eval_target": 1.846,
                "eval_unlearned": 2.142, "total_this_invocation": 94.359},
}  # fmt: skip

# report.md of that run, as `obliviate run configs/quickstart.yaml` wrote it (headers: readable
# names with the better direction, issue 17)
QUICKSTART_REPORT = """\
# synthkb_npo: synthkb, method npo

| model | forget ROUGE-L recall ↓ | forget val ROUGE-L recall ↓ | retain ROUGE-L recall ↑ | neighbor ROUGE-L recall ↑ | world ROUGE-L recall ↑ | forget prob. ↓ | forget truth ratio | forget quality ↑ | model utility ↑ |
|---|---|---|---|---|---|---|---|---|---|
| target (fine-tuned) | 0.991 | 1.000 | 0.994 | 1.000 | 1.000 | 0.976 | 0.586 | 6.94e-08 | 0.694 |
| retain (gold) | 0.435 | 0.442 | 0.971 | 0.968 | 0.938 | 0.013 | 0.743 | 1.000 | 0.659 |
| unlearned | 0.073 | 0.057 | 0.924 | 0.952 | 0.789 | 2.10e-04 | 0.691 | 0.340 | 0.643 |

Stage timings (s): finetune_target 44.151, finetune_retain 40.671, unlearn 2.138, load_benchmark 0.022, eval_retain 2.419, eval_target 1.846, eval_unlearned 2.142, total_this_invocation 94.359
"""  # noqa: E501


def _run_dir(root: Path, name: str, metrics: dict) -> Path:
    (root / name).mkdir(parents=True)
    (root / name / "metrics.json").write_text(json.dumps(metrics))
    return root / name


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "–"),
        (0.0, "0.000"),
        (0.5, "0.500"),
        (0.0005, "5.00e-04"),  # below 1e-3: scientific
        (-0.0005, "-5.00e-04"),
        (0.001, "0.001"),
        (9999.0, "9999.000"),
        (10000.0, "1.00e+04"),  # from 1e4: scientific
        (3, "3"),  # integers and strings as they are
        ("n/a", "n/a"),
        (True, "True"),
    ],
)
def test_number_format(value, text: str) -> None:
    assert _fmt(value) == text


def test_markdown_table_exact() -> None:
    rows = [("a", {"x": 0.25, "y": 2}), ("b", {"y": 1e-5})]
    assert markdown_table(rows, ["x", "y"], {"x": "X ↑"}) == (
        "| model | X ↑ | y |\n|---|---|---|\n| a | 0.250 | 2 |\n| b | – | 1.00e-05 |"
    )
    assert markdown_table([], ["x"]) == "| model | x |\n|---|---|"


def test_suite_columns_and_labels() -> None:
    assert headline_columns("synthkb") == [
        "forget/rouge_l_recall", "forget_val/rouge_l_recall", "retain/rouge_l_recall",
        "neighbor/rouge_l_recall", "world/rouge_l_recall", "forget/prob", "forget/truth_ratio",
        "forget_quality", "model_utility",
    ]  # fmt: skip
    assert column_labels("synthkb") == {}  # synthkb has no paper: the keys are the labels
    assert column_labels("knowundo")["unlearn_val/ppl"] == "ppl unlearn.val"
    assert headline_columns("tofu")[:3] == ["forget_quality", "model_utility", "forget/truth_ratio"]


def test_quickstart_report_is_exact(tmp_path: Path) -> None:
    run = _run_dir(tmp_path, "synthkb_npo", QUICKSTART)
    assert render_report([run]) == QUICKSTART_REPORT
    assert write_report(run) == QUICKSTART_REPORT
    assert (run / "report.md").read_text() == QUICKSTART_REPORT
    assert sorted(p.name for p in run.iterdir()) == ["metrics.json", "report.md"]


def test_no_timings_no_timing_line_and_unknown_roles_keep_their_name(tmp_path: Path) -> None:
    metrics = {"benchmark": "knowundo", "method": "ga",
               "models": {"target": {"unlearn_success": 12.5, "unlearn_val/ppl": 31250.0},
                          "base": {"retention_success": 80}}}  # fmt: skip
    assert render_report([_run_dir(tmp_path, "kud", metrics)]) == (
        "# kud: knowundo, method ga\n\n"
        "| model | Unlearn Success ↑ | Retention Success ↑ | Unlearn Success (direct prompt) ↑ "
        "| Retention Success (direct prompt) ↑ | ppl unlearn.val | ppl retention.val |\n"
        "|---|---|---|---|---|---|---|\n"
        "| target (fine-tuned) | 12.500 | – | – | – | 3.12e+04 | – |\n"
        "| base | – | 80 | – | – | – | – |\n"
    )


def test_several_runs_share_the_first_runs_reference_rows(tmp_path: Path) -> None:
    def run(method: str, forget: float, target: float) -> dict:
        return {"benchmark": "knowundo", "method": method, "timings": {"unlearn": 1.0},
                "models": {"target": {"unlearn_success": target},
                           "retain": {"unlearn_success": 90.0},
                           "unlearned": {"unlearn_success": forget}}}  # fmt: skip

    first = _run_dir(tmp_path, "r_ga", run("ga", 50.0, 10.0))
    second = _run_dir(tmp_path, "r_npo", run("npo", 75.0, 99.0))  # its target row is not shown
    no_unlearned = run("gd", 0.0, 0.0)
    del no_unlearned["models"]["unlearned"]
    third = _run_dir(tmp_path, "r_gd", no_unlearned)  # a run stopped before unlearning: no row
    text = render_report([first, second, third])
    lines = text.splitlines()
    assert lines[0] == "# knowundo: 3 runs"
    assert [line.split(" | ")[:2] for line in lines[4:]] == [
        ["| target (fine-tuned)", "10.000"],
        ["| retain (gold)", "90.000"],
        ["| ga (r_ga)", "50.000"],
        ["| npo (r_npo)", "75.000"],
    ]
    assert text.endswith(" |\n") and "Stage timings" not in text  # timings: single runs only


def test_a_directory_without_metrics_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(ObliviateError) as err:
        render_report([tmp_path])
    assert str(err.value) == (
        f"{tmp_path / 'metrics.json'} does not exist: is {tmp_path} a finished run directory?"
    )
