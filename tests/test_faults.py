"""Fault injection at each crash window of a stage (issue 14 item 2), then a rerun: it ends with
the model an uninterrupted run makes and a record that vouches for exactly those files, never a
reused wrong model. Crashes are raised in-process at the named points
(``OBLIVIATE_CRASH_AT=<point>:raise``, :func:`obliviate.io.crash_point`); ``test_resume.py``
kills real subprocesses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from small_world import SMALL_WORLD

from obliviate.cli import main
from obliviate.io import SimulatedCrash, artifact_mismatch, read_json

FT = [*SMALL_WORLD, "finetune.retain_model=false", "finetune.max_steps=8", "finetune.batch_size=4"]
A = ["finetune.lr=3e-3"]
B = ["finetune.lr=1e-2"]


def _finetune(out: Path, name: str, *extra: str) -> int:
    return main(["finetune", *FT, f"run.out_dir={out}", f"run.name={name}", *extra])


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "models" / "target" / "model.safetensors")


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _crash(monkeypatch, out: Path, name: str, point: str, *extra: str) -> None:
    monkeypatch.setenv("OBLIVIATE_CRASH_AT", f"{point}:raise")
    with pytest.raises(SimulatedCrash):
        _finetune(out, name, *extra)
    monkeypatch.delenv("OBLIVIATE_CRASH_AT")


def _record_is_true(run: Path) -> dict:
    record = read_json(run / "stages" / "finetune_target.json")
    assert record["artifacts"] and artifact_mismatch(run, record["artifacts"]) is None
    return record


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> dict[str, dict[str, torch.Tensor]]:
    """The target models of settings A and B, made without interruption."""
    out = tmp_path_factory.mktemp("ref")
    assert _finetune(out, "a", *A) == 0 and _finetune(out, "b", *B) == 0
    return {"a": _weights(out / "a"), "b": _weights(out / "b"), "out": out}  # type: ignore[dict-item]


def test_runs_are_deterministic(ref, tmp_path) -> None:
    assert _finetune(tmp_path, "a", *A) == 0
    assert _same(_weights(tmp_path / "a"), ref["a"]) and not _same(ref["a"], ref["b"])


def test_crash_after_save_before_record(ref, tmp_path, monkeypatch, capsys) -> None:
    """A finished with A; B crashes after saving its model, before its record; rerunning A must
    not reuse B's weights under A's record (the old record was deleted before B wrote)."""
    assert _finetune(tmp_path, "r", *A) == 0
    _crash(monkeypatch, tmp_path, "r", "stage.before_record", *B)
    assert _same(_weights(tmp_path / "r"), ref["b"])  # B's model is on disk, unrecorded
    assert not (tmp_path / "r" / "stages" / "finetune_target.json").exists()
    assert _finetune(tmp_path, "r", *A) == 0
    assert "finetune target: {'steps': 8" in capsys.readouterr().out  # trained again
    assert _same(_weights(tmp_path / "r"), ref["a"])
    _record_is_true(tmp_path / "r")


def test_a_replaced_model_file_is_not_vouched_for(ref, tmp_path, capsys) -> None:
    """A record's files changed behind its back (another writer, a copy): reuse notices it."""
    assert _finetune(tmp_path, "r", *A) == 0
    shutil.copy(ref["out"] / "b" / "models" / "target" / "model.safetensors",
                tmp_path / "r" / "models" / "target" / "model.safetensors")  # fmt: skip
    capsys.readouterr()
    assert _finetune(tmp_path, "r", *A) == 0
    err = capsys.readouterr().err
    assert "stage finetune_target: models/target/model.safetensors changed content" in err
    assert _same(_weights(tmp_path / "r"), ref["a"])
    _record_is_true(tmp_path / "r")


def test_crash_after_moving_the_old_model_aside(ref, tmp_path, monkeypatch) -> None:
    """B crashes between moving A's model aside and renaming its own into place: no model dir,
    no record; the rerun of B makes B's model and removes the leftovers."""
    assert _finetune(tmp_path, "r", *A) == 0
    _crash(monkeypatch, tmp_path, "r", "replace_dir.moved_aside", *B)
    models = tmp_path / "r" / "models"
    assert not (models / "target").exists()
    assert any(p.name.startswith(".target.old-") for p in models.iterdir())
    assert _finetune(tmp_path, "r", *B) == 0
    assert _same(_weights(tmp_path / "r"), ref["b"])
    assert not [p.name for p in models.iterdir() if p.name.startswith(".target.")]
    assert read_json(tmp_path / "r" / "stages" / "finetune_target.json")["fingerprint"]
    _record_is_true(tmp_path / "r")


@pytest.mark.parametrize("every", [0, 3])
def test_crash_mid_step(ref, tmp_path, monkeypatch, capsys, every: int) -> None:
    """A crash between backward and the optimizer step of step 5: the rerun resumes from the
    last checkpoint (step 3) or, without checkpoints, starts again; either way B's weights."""
    _crash(monkeypatch, tmp_path, "r", "mid_step@5", *B, f"finetune.checkpoint_every={every}")
    capsys.readouterr()
    assert _finetune(tmp_path, "r", *B, f"finetune.checkpoint_every={every}") == 0
    err = capsys.readouterr().err
    assert ("resuming from the checkpoint at optimizer step 3" in err) == (every == 3)
    assert _same(_weights(tmp_path / "r"), ref["b"])
    record = _record_is_true(tmp_path / "r")
    assert record["training"].get("resumed_from_step", 0) == (3 if every else 0)
    assert not (tmp_path / "r" / "checkpoints").exists()  # removed once the stage finished
