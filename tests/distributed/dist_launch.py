"""Running the obliviate CLI in 1 or 2 CPU processes (gloo) under the audit hook of
``audited_run.py``, for the distributed tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

AUDITED = Path(__file__).with_name("audited_run.py")
SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(cwd: Path, processes: int, args: list[str], timeout: int = 300) -> str:
    """``obliviate ARGS`` in ``cwd`` with ``processes`` ranks; writes are audited into
    ``cwd/audit/rank<r>.txt``; returns the output (raises with it on failure)."""
    return launch_script(cwd, processes, str(AUDITED), [str(cwd / "audit"), *args], timeout)


def launch_script(
    cwd: Path, processes: int, script: str, args: list[str], timeout: int = 300
) -> str:
    """``python SCRIPT ARGS`` (a path, or a file beside this one) on ``processes`` ranks."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OBLIVIATE_AUDIT_ROOT": str(cwd), "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1",
           "HF_HUB_OFFLINE": "1"}  # fmt: skip
    path = Path(script) if Path(script).is_absolute() else Path(__file__).with_name(script)
    cmd_args = [str(path), *args]
    if processes == 1:
        cmd = [sys.executable, *cmd_args]
    else:
        accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
        cmd = [accelerate or "accelerate", "launch", "--multi_gpu", "--num_machines", "1",
               "--num_processes", str(processes), "--mixed_precision", "no",
               "--dynamo_backend", "no", "--main_process_port", str(free_port()), *cmd_args]  # fmt: skip
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-6000:]}")
    return out


def written(cwd: Path) -> dict[int, list[str]]:
    """Rank -> the audited write events of that rank."""
    out = {}
    for path in sorted((cwd / "audit").glob("rank*.txt")):
        out[int(path.stem[4:])] = path.read_text().splitlines()
    return out
