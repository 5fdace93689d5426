"""Mid-stage checkpoints and resume with real signals (issue 14 item 4): a fine-tune subprocess
is stopped at optimizer step 22 (``OBLIVIATE_CRASH_AT=step@22:stop``), then killed with SIGKILL
(or sent SIGTERM); rerunning the command resumes from the last checkpoint and ends with the
weights of an uninterrupted run, bit for bit (``torch.equal`` on every tensor). While the
stopped process holds the run directory, a second run into it is refused; once it is dead its
lock is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from small_world import SMALL_WORLD

from obliviate.cli import main
from obliviate.io import read_json

# LoRA with dropout (the global RNG matters) over 40 steps, a checkpoint every 10
FT = [*SMALL_WORLD, "finetune.retain_model=false", "finetune.max_steps=40",
      "finetune.batch_size=4", "finetune.checkpoint_every=10", "finetune.log_every=1",
      "finetune.scope=lora", "finetune.lora_dropout=0.1"]  # fmt: skip
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "models" / "target" / "model.safetensors")


def _start(out: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "OBLIVIATE_CRASH_AT": "step@22:stop", "PYTHONPATH": SRC,
           "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"}  # fmt: skip
    cmd = [sys.executable, "-m", "obliviate", "finetune", *FT, f"run.out_dir={out}",
           f"run.name={name}"]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_stopped(proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until the subprocess stops itself at step 22 (state T in /proc)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the subprocess never reached step 22")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, torch.Tensor]:
    out = tmp_path_factory.mktemp("full")
    torch.set_num_threads(1)
    assert main(["finetune", *FT, f"run.out_dir={out}", "run.name=full"]) == 0
    return _weights(out / "full")


def test_kill_9_at_step_22_then_rerun_resumes_bit_identical(uninterrupted, tmp_path, capsys):
    proc = _start(tmp_path, "cut")
    _wait_stopped(proc)
    # the live (stopped) process holds the run directory: a second run into it is refused
    assert main(["finetune", *FT, f"run.out_dir={tmp_path}", "run.name=cut"]) == 2
    assert f"is in use by pid {proc.pid}" in capsys.readouterr().err
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL
    run = tmp_path / "cut"
    assert read_json(run / "checkpoints" / "finetune_target" / "meta.json")["step"] == 20
    assert not (run / "models" / "target").exists()
    torch.set_num_threads(1)
    assert main(["finetune", *FT, f"run.out_dir={tmp_path}", "run.name=cut"]) == 0
    err = capsys.readouterr().err
    assert f"taking over the lock of pid {proc.pid}" in err
    assert "resuming from the checkpoint at optimizer step 20" in err
    got = _weights(run)
    assert got.keys() == uninterrupted.keys()
    assert all(torch.equal(got[k], uninterrupted[k]) for k in got)
    record = read_json(run / "stages" / "finetune_target.json")
    assert record["training"]["steps"] == 40 and record["training"]["resumed_from_step"] == 20
    steps = [read_json_line["step"] for read_json_line in _log(run)]
    assert steps == list(range(1, 41))  # the log holds each step once


def test_sigterm_saves_a_checkpoint_and_exits_143(uninterrupted, tmp_path, capsys):
    proc = _start(tmp_path, "term")
    _wait_stopped(proc)
    proc.send_signal(signal.SIGTERM)  # handled once the process runs again
    proc.send_signal(signal.SIGCONT)
    assert proc.wait(60) == 128 + signal.SIGTERM
    assert "checkpoint saved at optimizer step 23" in proc.stderr.read().decode()
    torch.set_num_threads(1)
    assert main(["finetune", *FT, f"run.out_dir={tmp_path}", "run.name=term"]) == 0
    assert "resuming from the checkpoint at optimizer step 23" in capsys.readouterr().err
    got = _weights(tmp_path / "term")
    assert all(torch.equal(got[k], uninterrupted[k]) for k in got)


def _log(run: Path) -> list[dict]:
    import json

    return [
        json.loads(x) for x in (run / "logs" / "finetune_target.jsonl").read_text().splitlines()
    ]
