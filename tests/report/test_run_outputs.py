"""What `obliviate run` leaves for a user to look at (issue 17), on one small LoRA run: the
plots and the CSVs beside them, a model card in every model directory, `push --dry-run`, the
TensorBoard event files of `run.report_to=tensorboard`, and the CSV / LaTeX report."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from small_world import SMALL_WORLD

from obliviate.cli import main
from obliviate.config import load_config
from obliviate.model_card import front_matter
from obliviate.pipeline import Run
from obliviate.report.export import render
from obliviate.report.plots import have_matplotlib, read_log
from obliviate.report.tables import _fmt
from obliviate.run_dir import RunDir
from obliviate.tracking import make_tracker  # noqa: F401  (the module registers run.report_to)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _tensorboard() -> bool:
    try:
        from tensorboard.backend.event_processing import event_accumulator  # noqa: F401
    except ImportError:
        return False
    return True


SMALL = [
    *SMALL_WORLD,
    "finetune.epochs=1",
    "finetune.lr=1e-2",
    "finetune.batch_size=16",
    "finetune.log_every=2",
    "unlearn.max_steps=3",
    "unlearn.log_every=1",
    "unlearn.scope=lora",
    "eval.max_new_tokens=8",
    "eval.sets=[forget,retain]",
    "run.name=looked_at",
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("outputs")
    report_to = "tensorboard" if _tensorboard() else "none"
    cfg = load_config(None, [*SMALL, f"run.out_dir={out}", f"run.report_to={report_to}"])
    run = Run(cfg)
    metrics = run.run_all()
    run.rd.close()
    return cfg, run.dir, metrics


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_training_curves_per_stage_with_their_numbers(finished):
    _, run_dir, metrics = finished
    logs = sorted((run_dir / "logs").glob("*.jsonl"))
    assert [p.stem for p in logs] == ["finetune_retain", "finetune_target", "unlearn"]
    for log in logs:
        entries = read_log(log)
        rows = _csv(run_dir / "plots" / f"train_{log.stem}.csv")
        assert [int(r["step"]) for r in rows] == [e["step"] for e in entries]
        for row, entry in zip(rows, entries):  # every logged loss part, as logged
            assert {k: float(v) for k, v in row.items()} == pytest.approx(entry)
        if have_matplotlib():
            png = (run_dir / "plots" / f"train_{log.stem}.png").read_bytes()
            assert png.startswith(PNG_MAGIC) and len(png) > 5000
    unlearn = _csv(run_dir / "plots" / "train_unlearn.csv")
    assert len(unlearn) == 3 and {"loss", "forget_loss", "retain_loss", "lr"} <= set(unlearn[0])
    # the frontier's CSV: each model's two plotted metrics, as metrics.json has them
    front = _csv(run_dir / "plots" / "frontier.csv")
    x_key, y_key = list(front[0])[2:]
    assert y_key == "forget_quality"
    by_label = {r["label"]: r for r in front}
    for role, label in [("target", "target (fine-tuned)"), ("retain", "retain (gold)"),
                        ("unlearned", "unlearned")]:  # fmt: skip
        m = metrics["models"][role]
        assert float(by_label[label][x_key]) == m[x_key]
        assert float(by_label[label][y_key]) == m[y_key]
    assert {r["kind"] for r in front} == {"target", "retain", "method"}
    report = (run_dir / "report.md").read_text()
    if have_matplotlib():
        assert "![train unlearn](plots/train_unlearn.png)" in report
        assert "![frontier](plots/frontier.png)" in report


def test_every_model_dir_has_a_card_and_the_stages_stay_reusable(finished, capsys):
    cfg, run_dir, metrics = finished
    dirs = sorted(p.name for p in (run_dir / "models").iterdir() if p.is_dir())
    assert dirs == ["base", "retain", "target", "unlearned", "unlearned_lora"]
    for name in dirs:
        card = (run_dir / "models" / name / "README.md").read_text()
        front = front_matter(card)
        assert front["tags"][0] == "unlearning"
        assert front["library_name"] == ("peft" if name.endswith("_lora") else "transformers")
        assert "base_model" not in front  # a tiny model: no hub id, and never a local path
        assert "obliviate 0.1.0" in card and str(run_dir) not in card
    unlearned = (run_dir / "models" / "unlearned_lora" / "README.md").read_text()
    assert front_matter(unlearned)["tags"][:2] == ["unlearning", "npo"]
    assert "- scope: `lora`" in unlearned and "- forget: " in unlearned
    fq = metrics["models"]["unlearned"]["forget_quality"]
    assert f"| forget quality ↑ | {_fmt(fq)} |" in unlearned
    assert "eval.protocol=paper" in unlearned
    # the cards were written after the stages finished: their records still vouch for them
    rd = RunDir(cfg)
    assert rd.finished("unlearn", rd.fp_unlearn())
    assert rd.finished("finetune_target", rd.fp_finetune("target"))
    rd.close()
    assert main(["push", str(run_dir), "--repo", "me/looked-at", "--model", "unlearned_lora",
                 "--dry-run"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith("would upload ") and "to me/looked-at:" in out
    listed = [line.split()[0] for line in out.splitlines()[1:]]
    assert listed == sorted(p.name for p in (run_dir / "models" / "unlearned_lora").iterdir())
    assert "README.md" in listed and "adapter_model.safetensors" in listed


@pytest.mark.skipif(not _tensorboard(), reason="tensorboard is not installed")
def test_tensorboard_events_hold_the_losses_and_the_metrics(finished):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run_dir, metrics = finished
    acc = EventAccumulator(str(run_dir / "tensorboard" / run_dir.name))
    acc.Reload()
    logged = read_log(run_dir / "logs" / "unlearn.jsonl")
    for part in ("loss", "forget_loss", "retain_loss", "lr"):
        events = acc.Scalars(f"unlearn/{part}")
        assert [e.step for e in events] == [e["step"] for e in logged]
        assert [e.value for e in events] == pytest.approx([e[part] for e in logged], rel=1e-6)
    for role in ("target", "retain", "unlearned"):
        value = metrics["models"][role]["forget/rouge_l_recall"]
        assert acc.Scalars(f"eval/{role}/forget/rouge_l_recall")[0].value == pytest.approx(value)
    assert "config/text_summary" in acc.Tags()["tensors"]


def test_csv_and_latex_round_trip_metrics_json(finished):
    _, run_dir, metrics = finished
    rows = _csv_rows(render([run_dir], "all", "csv"))
    assert [r["role"] for r in rows] == ["target", "retain", "unlearned"]
    for row in rows:
        m = metrics["models"][row["role"]]
        numbers = {k: v for k, v in m.items() if isinstance(v, float)}
        assert numbers and {k: float(row[k]) for k in numbers} == numbers  # exact
    latex = render([run_dir], "headline", "latex")
    body = [line for line in latex.splitlines() if line.endswith(r"\\")][1:]
    cols = [k for k in json.loads(render([run_dir], "headline", "json"))["tables"][0]["columns"]]
    for line, role in zip(body, ("target", "retain", "unlearned")):
        cells = [c.strip() for c in line.removesuffix(r"\\").split("&")][1:]
        want = [_fmt(metrics["models"][role].get(c["key"])) for c in cols]
        assert [c.replace(r" \dag{}", "") for c in cells] == want


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))
