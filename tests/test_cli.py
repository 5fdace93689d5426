"""The CLI's user-facing errors are one line, without a traceback, and name the problem."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from obliviate.cli import main


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "obliviate", *args], capture_output=True, text=True, timeout=120
    )


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_unknown_config_key_is_one_line():
    line = _one_line_error(_run("run", "unlearn.epocs=1"))
    assert "unlearn.epocs" in line and "unlearn.epochs" in line


def test_unknown_method_is_one_line():
    line = _one_line_error(_run("unlearn", "unlearn.method=nope"))
    assert "unlearn.method='nope'" in line and "npo" in line


def test_malformed_record_file_is_one_line(tmp_path):
    data = tmp_path / "kb"
    assert main(["data", "synth", "--out", str(data), "--people", "6"]) == 0
    forget = data / "forget.jsonl"
    lines = forget.read_text().splitlines()
    lines[2] = lines[2][:-5]  # truncate the JSON of the third record
    forget.write_text("\n".join(lines) + "\n")
    line = _one_line_error(_run("run", f"benchmark.path={data}", f"run.out_dir={tmp_path}"))
    assert f"{forget}:3" in line and "invalid JSON" in line


def test_record_missing_field_names_it(tmp_path):
    data = tmp_path / "kb"
    main(["data", "synth", "--out", str(data), "--people", "6"])
    retain = data / "retain.jsonl"
    rows = [json.loads(x) for x in retain.read_text().splitlines()]
    del rows[0]["answer"]
    retain.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from obliviate.benchmarks.synthkb import load_dir
    from obliviate.errors import ObliviateError

    with pytest.raises(
        ObliviateError, match=r"retain.jsonl:1: qa record lacks required field 'answer'"
    ):
        load_dir(data)


def test_list_methods_shows_params(capsys):
    assert main(["list", "methods"]) == 0
    out = capsys.readouterr().out
    for name in ("ga", "gd", "npo"):
        assert f"\n{name} " in "\n" + out
    assert "beta=0.1" in out and "alpha=1.0" in out


def test_data_synth_round_trip(tmp_path):
    from obliviate.benchmarks.synthkb import build, load_dir

    main(["data", "synth", "--out", str(tmp_path), "--people", "6", "--seed", "3"])
    loaded = load_dir(tmp_path)
    built = build(num_people=6, seed=3)
    assert [r.to_dict() for r in loaded.forget] == [r.to_dict() for r in built.forget]
    assert set(loaded.eval_sets) == set(built.eval_sets)
    for name, eval_set in built.eval_sets.items():
        assert [r.to_dict() for r in loaded.eval_sets[name].records] == [
            r.to_dict() for r in eval_set.records
        ], name
