"""TOFU: loader on a local copy in the hub schema, suite aggregates by hand, end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hub_copies import CONFIGS, write_json_lines
from scipy import stats

from obliviate.benchmarks import tofu
from obliviate.config import load_config
from obliviate.errors import ObliviateError
from obliviate.eval.suites.base import SetResult
from obliviate.eval.suites.tofu import TOFUSuite, read_retain_truth_ratios
from obliviate.pipeline import Run
from obliviate.records import QAItem

TINY = [
    "model.tiny_preset=nano",
    "model.tokenizer_vocab=400",
    "model.max_length=64",
    "finetune.epochs=10",
    "finetune.lr=2e-2",
    "finetune.batch_size=8",
    "unlearn.epochs=2",
    "unlearn.batch_size=4",
    "unlearn.lr=5e-3",
    "eval.max_new_tokens=16",
]


def _cfg(path: Path, *extra: str):
    return load_config(CONFIGS / "tofu.yaml", [f"benchmark.path={path}", *extra]).benchmark


def test_load_maps_configs_onto_roles(tofu_dir: Path) -> None:
    data = tofu.load(_cfg(tofu_dir))
    assert (len(data.finetune), len(data.finetune_retain), len(data.forget)) == (24, 20, 4)
    assert data.retain == data.finetune_retain
    assert {r.question for r in data.forget}.isdisjoint(r.question for r in data.retain)
    sets = data.eval_sets
    assert [len(sets[n].records) for n in ("forget", "retain", "real_authors", "world_facts", "holdout")] == [4, 4, 2, 2, 4]  # fmt: skip
    item = sets["forget"].records[0]
    assert isinstance(item, QAItem) and item.id == "forget10_perturbed/0"
    assert item.paraphrased_answer.startswith("In short: ") and len(item.perturbed_answers) == 5
    assert item.paraphrased_question.startswith("Tell me: ")
    ra = sets["real_authors"].records[0]
    assert ra.paraphrased_answer is None and len(ra.perturbed_answers) == 3
    assert data.extras["retain_config"] == "retain90"


def test_split_pairing_and_errors(tofu_dir: Path) -> None:
    with pytest.raises(ObliviateError, match="benchmark.split='forget20'.*forget10"):
        tofu.load(_cfg(tofu_dir, "benchmark.split=forget20"))
    with pytest.raises(ObliviateError, match="no file for config 'forget01'"):
        tofu.load(_cfg(tofu_dir, "benchmark.split=forget01"))
    rows = [
        json.loads(line) for line in (tofu_dir / "forget10_perturbed.json").read_text().splitlines()
    ]
    del rows[2]["paraphrased_answer"]
    write_json_lines(tofu_dir / "forget10_perturbed.json", rows)
    with pytest.raises(ObliviateError) as err:
        tofu.load(_cfg(tofu_dir))
    assert "forget10_perturbed.json: record 2 lacks required field 'paraphrased_answer'" in str(
        err.value
    )


def test_aggregate_forget_quality_and_model_utility_by_hand() -> None:
    sets = {
        "forget": SetResult({"truth_ratio": 0.9}, [{"truth_ratio": v} for v in (1.0, 2.0, 3.0, 4.0)]),
        "retain": SetResult({"prob": 0.5, "rouge_l_recall": 0.25, "truth_ratio": 0.5}),
        "real_authors": SetResult({"normalised_prob": 1.0, "rouge_l_recall": 0.5, "truth_ratio": 0.25}),
        "world_facts": SetResult({"normalised_prob": 0.5, "rouge_l_recall": 1.0, "truth_ratio": 0.5}),
    }  # fmt: skip
    flat = TOFUSuite().aggregate(sets, {"forget/truth_ratio": [5.0, 6.0, 7.0, 8.0]})
    # MU = 9 / (1/0.5 + 1/0.25 + 1/0.5 + 1/1 + 1/0.5 + 1/0.25 + 1/0.5 + 1/1 + 1/0.5) = 9/20
    assert flat["model_utility"] == pytest.approx(0.45)
    # every unlearned tr is below every retain tr: D = 1; of the C(8,4) = 70 orderings of the
    # pooled sample, 2 reach D = 1 (all of one sample first), so the exact p-value is 2/70
    assert flat["forget_quality"] == pytest.approx(2 / 70)
    assert flat["forget/truth_ratio"] == 0.9
    with pytest.raises(ObliviateError, match="4 forget items but 3 retain"):
        TOFUSuite().aggregate(sets, {"forget/truth_ratio": [5.0, 6.0, 7.0]})


def test_read_retain_truth_ratios(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text("[0.5, 1, 2.5]")
    assert read_retain_truth_ratios(str(tmp_path / "list.json")) == [0.5, 1.0, 2.5]
    log = {"forget_truth_ratio": {"agg_value": 0.6,
                                  "value_by_index": {"10": {"score": 3.0}, "2": {"score": 1.5}}}}  # fmt: skip
    (tmp_path / "ou.json").write_text(json.dumps(log))
    assert read_retain_truth_ratios(str(tmp_path / "ou.json")) == [1.5, 3.0]  # by index
    run = tmp_path / "run" / "eval" / "retain"
    run.mkdir(parents=True)
    (run / "retain_values.json").write_text(
        '{"forget/truth_ratio": [0.25], "forget/nll_mean": [1]}'
    )
    assert read_retain_truth_ratios(str(tmp_path / "run")) == [0.25]
    (run / "retain_values.json").write_text('{"unlearn_val/nll_mean": [1.0]}')  # no forget TRs
    with pytest.raises(ObliviateError, match="expected a list of truth ratios, a retain_values"):
        read_retain_truth_ratios(str(tmp_path / "run"))
    (tmp_path / "bad.json").write_text('["x"]')
    with pytest.raises(ObliviateError, match="item 0 is 'x', not a number"):
        read_retain_truth_ratios(str(tmp_path / "bad.json"))
    with pytest.raises(ObliviateError, match="does not exist"):
        read_retain_truth_ratios(str(tmp_path / "absent.json"))


@pytest.mark.slow
def test_end_to_end_and_forget_quality_from_a_previous_run(tofu_dir: Path, tmp_path: Path) -> None:
    common = [
        CONFIGS / "tofu.yaml",
        [*TINY, f"benchmark.path={tofu_dir}", f"run.out_dir={tmp_path}"],
    ]
    run = Run(load_config(common[0], [*common[1], "run.name=base"]))
    metrics = run.run_all()
    models = metrics["models"]
    assert list(models) == ["target", "retain", "unlearned"]
    for m in models.values():
        for key in (
            "forget_quality",
            "model_utility",
            "forget/truth_ratio",
            "retain/rouge_l_recall",
            "real_authors/normalised_prob",
            "world_facts/truth_ratio",
            "mia/auc_min_k",
            "mia/privleak",
            "forget/extraction_strength",
        ):
            assert m[key] is not None, key  # fmt: skip
    assert models["retain"]["forget_quality"] == 1.0

    def rows(role: str, name: str) -> list[dict]:
        return [json.loads(x) for x in (run.dir / "eval" / role / f"{name}.jsonl").open()]

    retain_tr = [r["truth_ratio"] for r in rows("retain", "forget")]
    utility_keys = [f"{s}/{m}" for s, ms in (("retain", ("prob", "rouge_l_recall", "truth_ratio")),
                    ("real_authors", ("normalised_prob", "rouge_l_recall", "truth_ratio")),
                    ("world_facts", ("normalised_prob", "rouge_l_recall", "truth_ratio")))
                    for m in ms]  # fmt: skip
    for role, m in models.items():
        forget = rows(role, "forget")
        # KS test of this model's forget truth ratios against the retain model's (SPEC: TOFU)
        pvalue = stats.ks_2samp([r["truth_ratio"] for r in forget], retain_tr).pvalue
        assert m["forget_quality"] == pytest.approx(pvalue), role
        # model utility: harmonic mean of the nine retain / real-authors / world-facts values
        values = [m[k] for k in utility_keys]
        hmean = 0.0 if min(values) == 0 else len(values) / sum(1 / v for v in values)
        assert m["model_utility"] == pytest.approx(hmean), role
        # set means of the per-item rows
        assert m["forget/prob"] == pytest.approx(sum(r["prob"] for r in forget) / len(forget))
        retain = rows(role, "retain")
        rouge = sum(r["rouge_l_recall"] for r in retain) / len(retain)
        assert m["retain/rouge_l_recall"] == pytest.approx(rouge), role
    report = (run.dir / "report.md").read_text()
    assert "| model | Forget Quality ↑ | Model Utility ↑ | Forget TR |" in report
    # forget quality of a second run against the first run's retain model, read from its dir
    cfg2 = load_config(common[0], [*common[1], "run.name=second", f"run.base_run={run.dir}",
                                   f"eval.retain_tr_file={run.dir}", "finetune.retain_model=false",
                                   "eval.models=[target,unlearned]"])  # fmt: skip
    second = Run(cfg2).run_all()["models"]["unlearned"]
    retain_tr = read_retain_truth_ratios(str(run.dir))
    rows = (tmp_path / "second" / "eval" / "unlearned" / "forget.jsonl").read_text().splitlines()
    unlearned_tr = [json.loads(r)["truth_ratio"] for r in rows]
    assert second["forget_quality"] == pytest.approx(stats.ks_2samp(unlearned_tr, retain_tr).pvalue)


def test_privleak_takes_the_retain_auc_of_an_open_unlearning_log(tmp_path: Path) -> None:
    """OU's ``privleak`` reads ``mia_min_k.agg_value`` from its ``retain_model_logs``
    (open-unlearning ``configs/eval/tofu_metrics/privleak.yaml``, ``reference_logs``); the
    retain file must feed it, not AUC_ret = 0.5: at AUC 0.5691 that is −15.18, not −13.82."""
    from obliviate.eval.metrics import mia
    from obliviate.eval.suites.tofu import read_retain_values

    log = {"forget_truth_ratio": {"value_by_index": {"0": {"score": 0.7}}},
           "mia_min_k": {"agg_value": 0.492}}  # fmt: skip
    (tmp_path / "ou.json").write_text(json.dumps(log))
    values = read_retain_values(str(tmp_path / "ou.json"))
    assert values == {"forget/truth_ratio": [0.7], "mia/auc_min_k": 0.492}
    assert round(mia.privleak(0.5691, values["mia/auc_min_k"]), 2) == -15.18
    assert round(mia.privleak(0.5691), 2) == -13.82
    run = tmp_path / "run" / "eval" / "retain"
    run.mkdir(parents=True)
    (run / "retain_values.json").write_text(
        '{"forget/truth_ratio": [0.25], "mia/auc_min_k": 0.47, "forget_mia/auc_min_k": 0.51}'
    )
    assert read_retain_values(str(tmp_path / "run")) == {
        "forget/truth_ratio": [0.25],
        "mia/auc_min_k": 0.47,
        "forget_mia/auc_min_k": 0.51,
    }
    log["mia_min_k"] = {"agg_value": "high"}
    (tmp_path / "ou.json").write_text(json.dumps(log))
    with pytest.raises(ObliviateError, match="retain Min-K% AUC mia/auc_min_k is 'high'"):
        read_retain_values(str(tmp_path / "ou.json"))
