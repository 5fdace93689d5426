"""File IO: atomic writes never leave a partial file; JSON / JSON-lines errors name file:line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from obliviate import io
from obliviate.errors import ObliviateError
from obliviate.io import json_lines, read_json, write_atomic, write_json, write_jsonl


def test_write_atomic_creates_parents_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.txt"
    assert write_atomic(target, "first\n") == target
    write_atomic(target, "second ü\n")
    assert target.read_bytes() == "second ü\n".encode()
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]  # no temp file left


def test_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    target.write_text("old\n")
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate cannot be encoded mid-write
        write_atomic(target, "new text " * 1000 + "\ud800")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_failed_rename_leaves_no_file_at_all(tmp_path: Path, monkeypatch) -> None:
    def broken_replace(src, dst):
        raise KeyboardInterrupt  # an interrupt between write and rename (a BaseException)

    monkeypatch.setattr(io.os, "replace", broken_replace)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "new.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_write_json_and_jsonl_exact_text(tmp_path: Path) -> None:
    write_json(tmp_path / "m.json", {"b": np.float32(0.5), "a": [1, 2]})
    # indent 2, insertion order kept (no key sorting), numpy scalars as floats, final newline
    assert (tmp_path / "m.json").read_text() == '{\n  "b": 0.5,\n  "a": [\n    1,\n    2\n  ]\n}\n'
    write_jsonl(tmp_path / "r.jsonl", [{"x": 1}, {"y": np.float64(0.25)}])
    assert (tmp_path / "r.jsonl").read_text() == '{"x": 1}\n{"y": 0.25}\n'
    write_jsonl(tmp_path / "empty.jsonl", [])
    assert (tmp_path / "empty.jsonl").read_text() == ""


def test_read_json_round_trip_and_errors(tmp_path: Path) -> None:
    write_json(tmp_path / "ok.json", {"a": [1, 2.5, None]})
    assert read_json(tmp_path / "ok.json") == {"a": [1, 2.5, None]}
    with pytest.raises(ObliviateError, match=rf"^{tmp_path / 'absent.json'} does not exist$"):
        read_json(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text('{\n  "a": 1,\n  "b": \n}\n')
    with pytest.raises(ObliviateError) as err:
        read_json(tmp_path / "bad.json")
    assert str(err.value) == f"{tmp_path / 'bad.json'}: invalid JSON at line 4: Expecting value"


def test_json_lines_numbers_lines_counting_blank_ones(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_text('{"a": 1}\n\n   \n[2, 3]\n"s"\n')
    assert json_lines(path) == [(1, {"a": 1}), (4, [2, 3]), (5, "s")]
    # text given: the file is not read (it need not exist); path only names it in errors
    assert json_lines(tmp_path / "never.jsonl", "1\n\n2") == [(1, 1), (3, 2)]
    assert json_lines(path, "") == []


def test_json_lines_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "forget.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2,\n')
    with pytest.raises(ObliviateError) as err:
        json_lines(path)
    assert str(err.value) == (
        f"{path}:3: invalid JSON (Expecting property name enclosed in double quotes, column 9)"
    )
    with pytest.raises(ObliviateError) as err:
        json_lines(tmp_path / "absent.jsonl")
    assert str(err.value) == f"{tmp_path / 'absent.jsonl'}: cannot read (No such file or directory)"
    with pytest.raises(ObliviateError, match=r": cannot read \(Is a directory\)$"):
        json_lines(tmp_path)
