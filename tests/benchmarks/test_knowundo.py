"""KnowUnDo: both local layouts, the real privacy files, the suite by hand, an end-to-end run."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from hub_copies import CONFIGS, SHARED_DATA, kud_records, write_json

from obliviate.benchmarks import knowundo
from obliviate.config import load_config
from obliviate.errors import ObliviateError
from obliviate.eval.suites.base import EvalContext
from obliviate.eval.suites.knowundo import KnowUnDoSuite
from obliviate.formatting import Formatter
from obliviate.models.tiny import build_tiny_model, train_tokenizer
from obliviate.pipeline import Run

REAL_FILES = [SHARED_DATA / f"knowundo-privacy-{s}_{n}.json"
              for s in ("unlearn", "retention") for n in ("train", "val")]  # fmt: skip


def _cfg(path: Path | str, *extra: str):
    return load_config(
        CONFIGS / "knowundo_privacy.yaml", [f"benchmark.path={path}", *extra]
    ).benchmark


def test_hub_layout_maps_lists_onto_roles(knowundo_dir: Path) -> None:
    data = knowundo.load(_cfg(knowundo_dir))
    assert (len(data.forget), len(data.retain), len(data.finetune), len(data.finetune_retain)) == (
        6,
        6,
        18,
        9,
    )
    assert len(data.eval_sets["unlearn_val"].records) == 3
    assert len(data.eval_sets["retention_val"].records) == 3
    rec = data.forget[0]
    assert rec.question == "What is the e-mail address of Person0 Varga?"
    assert rec.answer == "The e-mail address of Person0 Varga is person0.varga@lumen.org."
    assert rec.id == "privacy/unlearn/train/0"
    forget_facts = {r.question for r in [*data.forget, *data.eval_sets["unlearn_val"].records]}
    assert forget_facts.isdisjoint(r.question for r in data.finetune_retain)
    assert data.extras["direct_prompt"].startswith("You are a privacy-sensitive assistant.")


def test_flat_layout_and_errors(tmp_path: Path) -> None:
    for split, kind, start in (("unlearn", "private", 0), ("retention", "public", 20)):
        write_json(tmp_path / f"knowundo-privacy-{split}_train.json", kud_records(kind, start, 4))
        write_json(tmp_path / f"knowundo-privacy-{split}_val.json", kud_records(kind, start + 4, 2))
    data = knowundo.load(_cfg(tmp_path))
    assert (len(data.forget), len(data.eval_sets["unlearn_val"].records)) == (4, 2)
    rows = kud_records("public", 0, 2)
    del rows[1]["labels"]
    write_json(tmp_path / "knowundo-privacy-retention_val.json", rows)
    with pytest.raises(ObliviateError) as err:
        knowundo.load(_cfg(tmp_path))
    assert "knowundo-privacy-retention_val.json: record 1 lacks required field 'labels'" in str(
        err.value
    )
    with pytest.raises(ObliviateError, match="no KnowUnDo copyright unlearn.train list"):
        knowundo.load(_cfg(tmp_path, "benchmark.domain=copyright"))
    with pytest.raises(ObliviateError, match="benchmark.domain='medical'"):
        knowundo.load(_cfg(tmp_path, "benchmark.domain=medical"))


def test_hub_layout_row_check(knowundo_dir: Path) -> None:
    (knowundo_dir / "privacy" / "unlearn.json").write_text(json.dumps([{"train": []}]))
    with pytest.raises(ObliviateError, match=r"unlearn\.json: record 0 lacks required field 'val'"):
        knowundo.load(_cfg(knowundo_dir))


@pytest.mark.skipif(not all(f.is_file() for f in REAL_FILES), reason="../shared/data is absent")
def test_real_privacy_files_counts() -> None:
    data = knowundo.load(_cfg(SHARED_DATA))
    counts = (len(data.forget), len(data.eval_sets["unlearn_val"].records),
              len(data.retain), len(data.eval_sets["retention_val"].records))  # fmt: skip
    assert counts == (400, 110, 441, 108)
    # knowundo-privacy-full.json holds the same questions (in another order, with a few answer
    # variants): the target model's fine-tuning set is the four lists
    full = json.loads((SHARED_DATA / "knowundo-privacy-full.json").read_text())
    assert sorted(r.question for r in data.finetune) == sorted(r["text"] for r in full)


def test_suite_accuracy_and_success_by_hand(knowundo_dir: Path) -> None:
    data = knowundo.load(_cfg(knowundo_dir))
    tok = train_tokenizer(data.tokenizer_texts(), vocab_size=300)
    model = build_tiny_model(tok, "nano", seed=3)
    fmt = Formatter(tok, "kud-nn", max_length=320)  # the direct prompt is not cut
    ctx = EvalContext(model, tok, fmt, batch_size=2)
    suite = KnowUnDoSuite()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no prompt may be cut: the hand computation cuts none
        results = suite.evaluate(data, ctx, ["unlearn_val", "retention_val_dp"])
    flat = suite.aggregate(results, None)
    direct = data.extras["direct_prompt"]
    expected = {}
    for name, records, prefix in (
        ("unlearn_val", data.eval_sets["unlearn_val"].records, ""),
        ("retention_val_dp", data.eval_sets["retention_val"].records, direct),
    ):
        accs, lps = [], []
        for rec in records:  # one item at a time, no padding: the text KnowUnDo scores
            prompt = tok(prefix + rec.question + "\n\n", add_special_tokens=False)["input_ids"]
            answer = tok(rec.answer, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            ids = torch.tensor([[tok.bos_token_id, *prompt, *answer]])
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
            pos = range(len(prompt), len(prompt) + len(answer))  # predicts the answer tokens
            target = ids[0, 1:]
            accs.append(sum(int(logp[t].argmax() == target[t]) for t in pos) / len(answer))
            lps.append(sum(float(logp[t, target[t]]) for t in pos) / len(answer))
        expected[name] = (100 * sum(accs) / len(accs), math.exp(-sum(lps) / len(lps)))
    assert flat["unlearn_val/acc"] == pytest.approx(expected["unlearn_val"][0])
    assert flat["unlearn_val/ppl"] == pytest.approx(expected["unlearn_val"][1], rel=1e-5)
    assert flat["unlearn_success"] == pytest.approx(100 - expected["unlearn_val"][0])
    assert flat["retention_success_dp"] == pytest.approx(expected["retention_val_dp"][0])
    assert "retention_success" not in flat and "unlearn_success_dp" not in flat
    with pytest.raises(ObliviateError, match="accepted: unlearn_val, retention_val"):
        suite.evaluate(data, ctx, ["forget"])


@pytest.mark.slow
def test_end_to_end_with_a_retain_model(knowundo_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(knowundo_dir / "privacy", knowundo_dir / "copyright")  # the domain key moves
    overrides = [
        f"benchmark.path={knowundo_dir}", "benchmark.domain=copyright", f"run.out_dir={tmp_path}",
        "run.name=kud", "model.tiny_preset=nano", "model.tokenizer_vocab=300",
        "model.max_length=320", "finetune.epochs=6", "finetune.lr=2e-2", "finetune.batch_size=6",
        "unlearn.epochs=2", "unlearn.batch_size=3", "unlearn.lr=5e-3",
    ]  # fmt: skip
    run = Run(load_config(CONFIGS / "knowundo_copyright.yaml", overrides))
    models = run.run_all()["models"]
    assert list(models) == ["target", "retain", "unlearned"]
    for role, m in models.items():
        # every headline value from the per-item rows the run wrote: success = token accuracy
        # (x100, unlearn: 100 - it), ppl = exp(-mean of the items' mean log-probabilities)
        rows = {name: [json.loads(x) for x in (run.dir / "eval" / role / f"{name}.jsonl").open()]
                for name in ("unlearn_val", "retention_val", "unlearn_val_dp",
                             "retention_val_dp")}  # fmt: skip

        acc = {n: 100 * sum(r["token_accuracy"] for r in v) / len(v) for n, v in rows.items()}
        ppl = {n: math.exp(-sum(r["mean_logprob"] for r in v) / len(v)) for n, v in rows.items()}
        assert m["unlearn_success"] == pytest.approx(100 - acc["unlearn_val"]), role
        assert m["retention_success"] == pytest.approx(acc["retention_val"]), role
        assert m["unlearn_success_dp"] == pytest.approx(100 - acc["unlearn_val_dp"]), role
        assert m["retention_success_dp"] == pytest.approx(acc["retention_val_dp"]), role
        assert m["unlearn_val/ppl"] == pytest.approx(ppl["unlearn_val"], rel=1e-9), role
        assert m["retention_val/ppl"] == pytest.approx(ppl["retention_val"], rel=1e-9), role
        assert m["unlearn_success"] == pytest.approx(100 - m["unlearn_val/acc"])
        assert [len(v) for v in rows.values()] == [3, 3, 3, 3]
    report = (run.dir / "report.md").read_text()
    assert "| model | Unlearn Success ↑ | Retention Success ↑ |" in report
    rows = (run.dir / "eval" / "unlearned" / "unlearn_val_dp.jsonl").read_text().splitlines()
    assert {"token_accuracy", "mean_logprob", "n_tokens"} <= set(json.loads(rows[0]))


@pytest.mark.slow
def test_hub_mode_reads_through_load_dataset(
    knowundo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub path (``datasets.load_dataset(repo, name=domain, split=...)``), offline: a local
    dataset repository whose card maps the configs and splits as the hub's does."""
    import datasets

    (knowundo_dir / "README.md").write_text(
        "---\nconfigs:\n- config_name: privacy\n  data_files:\n"
        "  - split: unlearn\n    path: privacy/unlearn.json\n"
        "  - split: retention\n    path: privacy/retention.json\n---\n"
    )
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")
    monkeypatch.setattr(knowundo, "REPO", str(knowundo_dir))
    hub = knowundo.load(load_config(CONFIGS / "knowundo_privacy.yaml").benchmark)
    local = knowundo.load(_cfg(knowundo_dir))
    assert [(r.question, r.answer) for r in hub.finetune] == [
        (r.question, r.answer) for r in local.finetune
    ]
    assert len(hub.eval_sets["retention_val"].records) == 3
