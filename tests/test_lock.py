"""The run-directory lock (issue 14 item 2): ``.lock`` holds the pid and host of the invocation
using the directory; another live process's lock refuses, a dead one's is taken over, a CLI
command releases its lock when it ends. (A real concurrent run: ``test_resume.py``.)"""

from __future__ import annotations

import socket
import subprocess

import pytest

from obliviate.errors import ObliviateError
from obliviate.run_dir import LOCK, acquire_lock, release_lock


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_live_lock_refuses_and_dead_lock_is_taken_over(tmp_path, capsys) -> None:
    (tmp_path / LOCK).write_text(f"1 {socket.gethostname()}\n")
    with pytest.raises(ObliviateError, match=r"in use by pid 1 .*choose another run.name"):
        acquire_lock(tmp_path)
    dead = _dead_pid()
    (tmp_path / LOCK).write_text(f"{dead} {socket.gethostname()}\n")
    acquire_lock(tmp_path)
    assert f"taking over the lock of pid {dead}" in capsys.readouterr().err
    assert (tmp_path / LOCK).read_text().split()[0] == str(__import__("os").getpid())
    acquire_lock(tmp_path)  # re-entrant in one process
    release_lock(tmp_path)
    assert not (tmp_path / LOCK).exists()


def test_a_garbled_lock_is_replaced(tmp_path) -> None:
    (tmp_path / LOCK).write_text("not a pid")
    acquire_lock(tmp_path)
    release_lock(tmp_path)
    assert not (tmp_path / LOCK).exists()


def test_a_cli_command_releases_its_lock(tmp_path) -> None:
    from obliviate.cli import main

    assert main(["run", "eval.models=[]", f"run.out_dir={tmp_path}", "run.name=x"]) == 2
    assert main(["finetune", "benchmark.people=8", "benchmark.holdout_people=2",
                 "model.tiny_preset=nano", "model.tokenizer_vocab=400", "finetune.max_steps=2",
                 "finetune.retain_model=false", f"run.out_dir={tmp_path}", "run.name=x"]) == 0  # fmt: skip
    assert not (tmp_path / "x" / LOCK).exists()
