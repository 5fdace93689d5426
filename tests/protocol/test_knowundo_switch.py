"""Issue 19 acceptance: switching ``eval.protocol`` from ``paper`` to ``fixed`` changes only the
metric keys the README's "Protocols" tables list, on a small KnowUnDo run and on synthkb.

Two runs of the same config, seed and data differ only in ``eval.protocol``; their
``metrics.json`` are compared key by key. On KnowUnDo every stage sees the token set (item 1:
fine-tune, unlearning, scoring) and gd its stream (item 4), so every acc / ppl / success key may
move, and nothing else; on synthkb no listed item applies.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from small_world import SMALL_WORLD

from obliviate.config import load_config
from obliviate.pipeline import Run

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
# KnowUnDo (README "Protocols", Evaluation row "KnowUnDo token set"): each val list's acc and
# ppl (as is and with the direct prompt) and the success rates read from them
KUD_SETS = ("unlearn_val", "retention_val", "unlearn_val_dp", "retention_val_dp")
KUD_KEYS = {f"{s}/{m}" for s in KUD_SETS for m in ("acc", "ppl")} | {
    "unlearn_success", "retention_success", "unlearn_success_dp", "retention_success_dp"
}  # fmt: skip
# synthkb under gd: no listed item applies to it (its template is qa-tags, gd pairs batches
# off KnowUnDo); a helper whose item changes a synthkb number adds its keys here and in README
SYNTHKB_KEYS: set[str] = set()


def _write_kud(root: Path) -> Path:
    def recs(kind: str, start: int, n: int) -> list[dict[str, str]]:
        if kind == "private":
            return [
                {
                    "text": f"What is the e-mail address of Person{i} Varga?",
                    "labels": f"person{i}.varga@lumen.org",
                }
                for i in range(start, start + n)
            ]
        return [{"text": f"Which city does Person{i} Varga live in?",
                 "labels": f"Person{i} Varga lives in Vesby."} for i in range(start, start + n)]  # fmt: skip

    (root / "privacy").mkdir(parents=True)
    (root / "privacy" / "unlearn.json").write_text(
        json.dumps({"train": recs("private", 0, 6), "val": recs("private", 6, 3)})
    )
    (root / "privacy" / "retention.json").write_text(
        json.dumps({"train": recs("public", 20, 6), "val": recs("public", 26, 3)})
    )
    return root


def _metrics(config: Path, overrides: list[str], out: Path, protocol: str) -> dict:
    cfg = load_config(config, [*overrides, f"run.out_dir={out}", f"run.name={protocol}",
                               f"eval.protocol={protocol}"])  # fmt: skip
    run = Run(cfg)
    run.run_all()
    return json.loads((run.dir / "metrics.json").read_text())["models"]


def _differing(paper: dict, fixed: dict) -> dict[str, set[str]]:
    assert paper.keys() == fixed.keys()
    out = {}
    for role in paper:
        assert paper[role].keys() == fixed[role].keys(), role
        out[role] = {k for k, v in paper[role].items() if v != fixed[role][k]}
    return out


@pytest.mark.slow
def test_knowundo_paper_vs_fixed_moves_only_the_listed_keys(tmp_path):
    data = _write_kud(tmp_path / "kud")
    overrides = [f"benchmark.path={data}", "model.tiny_preset=nano", "model.tokenizer_vocab=300",
                 "model.max_length=320", "finetune.epochs=4", "finetune.lr=2e-2",
                 "finetune.batch_size=6", "unlearn.method=gd", "unlearn.epochs=1",
                 "unlearn.batch_size=3", "unlearn.lr=5e-3"]  # fmt: skip
    config = CONFIGS / "knowundo_privacy.yaml"
    paper = _metrics(config, overrides, tmp_path, "paper")
    fixed = _metrics(config, overrides, tmp_path, "fixed")
    diff = _differing(paper, fixed)
    for role in ("target", "unlearned"):  # models that learned the forget facts
        assert diff[role] == KUD_KEYS & set(paper[role]), role
    # the retain model never saw the forget facts: its unlearn_val accuracy can be the same
    # under both token sets (0 on a nano model); nothing outside the list may move
    assert diff["retain"] <= KUD_KEYS and {"retention_val/acc", "unlearn_val/ppl"} <= diff["retain"]


@pytest.mark.slow
def test_synthkb_paper_vs_fixed_moves_only_the_listed_keys(tmp_path):
    overrides = [*SMALL_WORLD, "unlearn.method=gd", "unlearn.epochs=1",
                 "finetune.retain_model=false", "eval.models=[target,unlearned]"]  # fmt: skip
    paper = _metrics(CONFIGS / "quickstart.yaml", overrides, tmp_path, "paper")
    fixed = _metrics(CONFIGS / "quickstart.yaml", overrides, tmp_path, "fixed")
    for role, keys in _differing(paper, fixed).items():
        assert keys == SYNTHKB_KEYS & set(paper[role]), role
