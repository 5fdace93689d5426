"""The README's method-switching command and its Python API snippet run as written (on a small
world: the same overrides as the end-to-end test, appended after the README's own)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from small_world import SMALL_WORLD

import obliviate.config
from obliviate.cli import main
from obliviate.config import load_config

README = Path(__file__).resolve().parents[1] / "README.md"
SMALL = [
    *SMALL_WORLD,
    "eval.max_new_tokens=8",
]


def readme_command(prefix: str) -> list[str]:
    """The README line that starts with ``prefix`` (comment stripped), as argv after ``obliviate``."""
    for line in README.read_text().splitlines():
        if line.startswith(prefix):
            return shlex.split(line.split("#", 1)[0])[1:]
    raise AssertionError(f"README has no line starting with {prefix!r}")


def readme_python() -> str:
    """The README's Python API snippet."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    [snippet] = [b for b in blocks if "Run(load_config(" in b]
    return snippet


def test_switching_method_keeps_only_its_params(capsys):
    cfg = load_config("configs/quickstart.yaml", ["unlearn.method=gd"])
    assert cfg.unlearn.params == {"gamma": 1.0, "alpha": 1.0}
    assert "dropped unlearn.params beta, retain_loss" in capsys.readouterr().err
    # a parameter given on the command line is never dropped: still an error
    with pytest.raises(obliviate.errors.ObliviateError, match="beta is not a parameter of"):
        load_config("configs/quickstart.yaml", ["unlearn.method=gd", "unlearn.params.beta=0.1"])
    # the file's own method with a foreign parameter is an error too (typos are caught)
    with pytest.raises(obliviate.errors.ObliviateError, match="beta is not a parameter of"):
        load_config("configs/methods/gd.yaml", ["unlearn.params.beta=0.1"])


def test_mapping_override_replaces():
    assert load_config("configs/quickstart.yaml", ["unlearn.params={}"]).unlearn.params == {}
    cfg = load_config("configs/quickstart.yaml", ["unlearn.params={beta: 0.3}"])
    assert cfg.unlearn.params == {"beta": 0.3}
    cfg = load_config("configs/quickstart.yaml", ["unlearn.params={}", "unlearn.params.beta=0.2"])
    assert cfg.unlearn.params == {"beta": 0.2}
    merged = load_config("configs/quickstart.yaml", ["unlearn.params.beta=0.2"]).unlearn.params
    assert merged == {"beta": 0.2, "gamma": 1.0, "alpha": 1.0, "retain_loss": "nll"}


@pytest.mark.slow
def test_readme_command_and_snippet_run(tmp_path, monkeypatch):
    monkeypatch.chdir(README.parent)
    argv = readme_command("obliviate run configs/quickstart.yaml unlearn.method=gd")
    assert argv[2:] == ["unlearn.method=gd", "unlearn.epochs=3"]
    out = tmp_path / "runs"
    assert main([*argv, *SMALL, f"run.out_dir={out}", "run.name=readme_gd"]) == 0
    first = out / "readme_gd"
    assert (first / "metrics.json").is_file()

    real_load = obliviate.config.load_config
    extra = [*SMALL, f"run.out_dir={out}", "run.name=readme_api", f"run.base_run={first}"]
    monkeypatch.setattr(
        obliviate.config, "load_config", lambda p, o=None: real_load(p, [*(o or []), *extra])
    )
    scope: dict = {}
    exec(compile(readme_python(), "README.md", "exec"), scope)
    value = scope["metrics"]["models"]["unlearned"]["forget/rouge_l_recall"]
    assert 0.0 <= value <= 1.0
    assert scope["run"].cfg.unlearn.method == "gd"
