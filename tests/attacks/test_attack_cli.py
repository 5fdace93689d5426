"""``obliviate attack`` end to end on the small world: every kind writes its metrics.json with
recovery rows and per-item rows, the report gets the robustness table, and the run's own
metrics.json stays where it is."""

from __future__ import annotations

import json

import pytest
from small_world import SMALL_WORLD

from obliviate.cli import main

RUN = [*SMALL_WORLD, "finetune.max_steps=6", "unlearn.max_steps=2", "eval.max_new_tokens=4",
       "eval.sets=[forget,retain]", "attack.sets=[forget]"]  # fmt: skip
ATTACK = ["attack.relearn.steps=2", "attack.quantize.schemes=[rtn4]",
          "attack.prompt.kinds=[few_shot]"]  # fmt: skip


@pytest.mark.slow
def test_attack_writes_every_kind_and_the_robustness_table(tmp_path, capsys):
    where = [f"run.out_dir={tmp_path}", "run.name=r"]
    assert main(["attack", *RUN, *where]) == 2  # no run yet: a one-line error
    assert "is not a run directory" in capsys.readouterr().err
    assert main(["run", *RUN, *where, "eval.attacks=[latent]"]) == 0  # attacks inside a run
    run = tmp_path / "r"
    assert "| latent/logit_lens |" in (run / "report.md").read_text()
    before = (run / "metrics.json").read_text()
    assert main(["attack", *RUN, *where, "eval.attacks=[latent]", *ATTACK]) == 0
    assert (run / "metrics.json").read_text() == before and not (run / "previous").exists()
    for kind, variants in (("relearn", ["forget_subset"]), ("quantize", ["rtn4"]),
                           ("prompt", ["few_shot"]), ("latent", ["logit_lens"])):  # fmt: skip
        doc = json.loads((run / "attacks" / kind / "metrics.json").read_text())
        assert sorted(doc["recovery"]) == sorted(variants), kind
        for row in doc["recovery"].values():
            assert row["unlearned"] is not None and row["attacked_retain"] is not None
            if row["recovery"] is not None:  # (attacked - unlearned) / (target - unlearned)
                want = (row["attacked_unlearned"] - row["unlearned"]) / (
                    row["target"] - row["unlearned"]
                )
                assert abs(row["recovery"] - want) < 1e-9
    rel = json.loads((run / "attacks" / "relearn" / "metrics.json").read_text())
    rows = [json.loads(x) for x in (run / "attacks/relearn/forget_subset/unlearned/forget.jsonl")
            .read_text().splitlines()]  # fmt: skip
    assert rows and not {r["id"] for r in rows} & set(rel["settings"]["relearn_ids"])
    assert (run / "attacks/prompt/few_shot/retain/forget.jsonl").is_file()
    lens = json.loads((run / "attacks/latent/metrics.json").read_text())["variants"]["logit_lens"]
    assert len(lens["layers"]["unlearned"]["top1"]) == 3  # nano: embeddings + 2 blocks
    report = (run / "report.md").read_text()
    assert "## Robustness" in report and "| quantize/rtn4 |" in report
