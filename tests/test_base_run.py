"""``run.base_run`` is read-only (issue 14 item 3): a run reusing another run's models never
writes into it; settings that differ from those that built them are an error naming the keys;
an eval of a shared model under other eval settings goes to this run's own ``eval/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from small_world import SMALL_WORLD

from obliviate.cli import main
from obliviate.io import file_entry

BASE = [*SMALL_WORLD, "finetune.retain_model=false", "finetune.max_steps=6",
        "eval.models=[target,unlearned]", "eval.max_new_tokens=4", "eval.sets=[forget,retain]",
        "unlearn.max_steps=2"]  # fmt: skip


def _snapshot(run: Path) -> dict[str, dict]:
    return {p.relative_to(run).as_posix(): file_entry(p) for p in sorted(run.rglob("*"))
            if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("base")
    assert main(["run", *BASE, f"run.out_dir={out}", "run.name=x"]) == 0
    return out / "x"


def test_other_finetune_settings_are_an_error_naming_the_keys(base, tmp_path, capsys):
    before = _snapshot(base)
    code = main(["run", *BASE, f"run.out_dir={tmp_path}", "run.name=y", f"run.base_run={base}",
                 "finetune.lr=0.01", "finetune.max_steps=7"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert (
        "finetune.lr: 0.003 there, 0.01 here" in err
        and "finetune.max_steps: 6 there, 7 here" in err
    )
    assert "read-only" in err
    assert _snapshot(base) == before


def test_reuse_with_other_eval_settings_never_writes_into_it(base, tmp_path, capsys):
    before = _snapshot(base)
    assert main(["run", *BASE, f"run.out_dir={tmp_path}", "run.name=y", f"run.base_run={base}",
                 "unlearn.method=gd", "eval.batch_size=8"]) == 0  # fmt: skip
    assert _snapshot(base) == before
    own = tmp_path / "y"
    assert (own / "eval" / "target" / "metrics.json").is_file()  # evaluated here, not there
    assert (own / "stages" / "eval_target.json").is_file()
    assert not (own / "models" / "target").exists()  # the model itself is X's
