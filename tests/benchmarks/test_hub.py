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
    assert str(err.value) == (
        f"{tmp_path / 'forget01.json'}: record 1 lacks required field 'answer' "
        "(required: question, answer; present: question)"
    )


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


def test_record_shape_and_union_types(tmp_path: Path) -> None:
    with pytest.raises(ObliviateError) as err:
        check_rows([ROWS[0], ["q", "a"]], "x.json", SCHEMA)
    assert str(err.value) == (
        "x.json: record 1 is a list, expected an object with fields question, answer"
    )
    check_rows([{"v": 1}, {"v": "one"}], "x.json", {"v": (int, str)})  # either type passes
    with pytest.raises(
        ObliviateError, match=r"record 0 field 'v' is a float, expected int or str$"
    ):
        check_rows([{"v": 1.5}], "x.json", {"v": (int, str)})
    with pytest.raises(
        ObliviateError, match=r"record 0 lacks required field 'v' .*present: none\)"
    ):
        check_rows([{}], "x.json", {"v": int})
    (tmp_path / "scalar.json").write_text("3")
    with pytest.raises(ObliviateError) as err:
        read_local(tmp_path, "scalar", "train")
    assert str(err.value) == f"{tmp_path / 'scalar.json'}: top level is a int; expected a list"


def test_parquet_shards_in_a_split_directory_are_concatenated_in_name_order(
    tmp_path: Path,
) -> None:
    shards = tmp_path / "cfg" / "train"
    shards.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(ROWS[1:]), shards / "1.parquet")
    pq.write_table(pa.Table.from_pylist(ROWS[:1]), shards / "0.parquet")
    table = read_local(tmp_path, "cfg", "train")
    assert table.rows == ROWS and table.where == str(shards / "0.parquet")
    write_json_lines(tmp_path / "cfg" / "train.jsonl", ROWS[:1])  # <config>/<split>.jsonl first
    assert read_local(tmp_path, "cfg", "train").rows == ROWS[:1]


class _FakeDataset:
    """What read_hub uses of a ``datasets.Dataset``: column names, filter, to_list."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        self.column_names = list(rows[0])

    def filter(self, keep):
        return _FakeDataset([r for r in self.rows if keep(r)])

    def to_list(self) -> list[dict]:
        return list(self.rows)


def test_hub_mode_calls_load_dataset_checks_then_filters(monkeypatch) -> None:
    import datasets

    calls = []

    def load_dataset(repo, name, split):
        calls.append((repo, name, split))
        return _FakeDataset(ROWS)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    table = read_table("locuslab/TOFU", "", "forget01", "train", SCHEMA,
                       keep=lambda r: r["question"] == "q1")  # fmt: skip
    assert calls == [("locuslab/TOFU", "forget01", "train")]
    assert table.rows == ROWS[1:]
    assert table.where == (
        "locuslab/TOFU [config 'forget01', split 'train'] (rows of the selected targets)"
    )
    with pytest.raises(ObliviateError) as err:
        read_table("r", "", "c", "s", {**SCHEMA, "label": int})
    assert str(err.value) == (
        "r [config 'c', split 's']: record 0 lacks required field 'label' "
        "(columns: question, answer)"
    )


def test_hub_failure_is_one_readable_error(monkeypatch) -> None:
    import datasets

    def offline(repo, name, split):
        raise ConnectionError(
            "Couldn't reach 'locuslab/TOFU' on the Hub (LocalEntryNotFoundError)\nmore"
        )

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(ObliviateError) as err:
        read_table("locuslab/TOFU", "", "forget01", "train", SCHEMA)
    assert str(err.value) == (
        "could not load locuslab/TOFU [config 'forget01', split 'train'] from the hub: "
        "Couldn't reach 'locuslab/TOFU' on the Hub (LocalEntryNotFoundError); for offline use "
        "set benchmark.path to a local copy laid out as on the hub"
    )
