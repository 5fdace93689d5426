"""The shared hub/local table reader: layouts, formats, field checks and their error messages."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hub_copies import write_json, write_json_lines

from obliviate.benchmarks.hub import check_rows, read_local, read_table
from obliviate.errors import ObliviateError

SCHEMA = {"question": str, "answer": str}
ROWS = [{"question": "q0", "answer": "a0"}, {"question": "q1", "answer": "a1"}]


def test_layouts_in_order(tmp_path: Path) -> None:
    write_json(tmp_path / "All" / "probes.json", ROWS[:1])  # the hub card's file wins
    write_json(tmp_path / "cfg" / "test.json", ROWS)
    assert read_local(tmp_path, "cfg", "test", "All/probes.json").rows == ROWS[:1]
    assert read_local(tmp_path, "cfg", "test").rows == ROWS
    write_json_lines(tmp_path / "single.json", ROWS)  # JSON lines in a .json file (TOFU)
    assert read_local(tmp_path, "single", "train").rows == ROWS
    (tmp_path / "pq").mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "pq" / "train-00000-of-00001.parquet")
    table = read_local(tmp_path, "pq", "train")
    assert table.rows == ROWS and table.where.endswith(".parquet")
    write_json(tmp_path / "one" / "unlearn.json", {"train": [], "val": []})  # one row (object)
    assert read_local(tmp_path, "one", "unlearn").rows == [{"train": [], "val": []}]


def test_missing_file_names_the_candidates(tmp_path: Path) -> None:
    with pytest.raises(
        ObliviateError, match=r"no file for config 'forget01' split 'train'.*forget01\.json"
    ):
        read_local(tmp_path, "forget01", "train")
    with pytest.raises(ObliviateError, match="is not a directory"):
        read_local(tmp_path / "absent", "forget01", "train")


def test_missing_field_names_file_record_and_field(tmp_path: Path) -> None:
    write_json(tmp_path / "forget01.json", [ROWS[0], {"question": "q1"}])
    with pytest.raises(ObliviateError) as err:
        read_table("locuslab/TOFU", str(tmp_path), "forget01", "train", SCHEMA)
    msg = str(err.value)
    assert "forget01.json" in msg and "record 1" in msg and "'answer'" in msg


def test_wrong_type_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(
        ObliviateError, match=r"x\.json: record 0 field 'answer' is a int, expected str"
    ):
        check_rows([{"question": "q", "answer": 3}], "x.json", SCHEMA)
    with pytest.raises(ObliviateError, match="expected int"):
        check_rows([{"n": True}], "x.json", {"n": int})  # a bool is not an int here
    (tmp_path / "bad.json").write_text('[{"question": "q",]')
    with pytest.raises(ObliviateError, match=r"bad\.json:1: invalid JSON"):
        read_local(tmp_path, "bad", "train")


def test_keep_filters_after_the_check(tmp_path: Path) -> None:
    write_json(tmp_path / "t.json", ROWS)
    table = read_table("r", str(tmp_path), "t", "train", SCHEMA, keep=lambda r: r["answer"] == "a1")
    assert table.rows == ROWS[1:]
