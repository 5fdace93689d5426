"""One reader for a benchmark's tables, from the Hugging Face hub or from a local copy.

Hub mode calls ``datasets.load_dataset(repo, name=config, split=split)``; local mode reads a
directory laid out as on the hub. Either way a table arrives as a list of plain row dicts and
goes through the same field check and the same mapping code in the benchmark's loader.

Local layouts tried, in order, for a table (``config``, ``split``) under ``benchmark.path``:

1. the file the hub's dataset card names for it (``hub_file``, e.g. RWKU ``All/forget_level1.json``;
   a ``git clone`` of the hub repository is such a directory);
2. ``<config>/<split>.{json,jsonl,parquet}``;
3. the hub's parquet export: ``<config>/<split>-*.parquet`` or ``<config>/<split>/*.parquet``;
4. ``<config>.{json,jsonl,parquet}`` (single-split configs, e.g. TOFU ``forget01.json``).

A ``.json`` file holds a list of rows, one row (an object) or JSON lines; ``.jsonl`` one row per
line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ObliviateError
from ..io import json_lines

Row = dict[str, Any]
EXTENSIONS = (".json", ".jsonl", ".parquet")
# field name -> accepted Python type(s) of its value
Schema = Mapping[str, type | tuple[type, ...]]


@dataclass(frozen=True)
class Table:
    """Rows of one table and where they came from (a file path or ``repo [config/split]``)."""

    rows: list[Row]
    where: str


def _type_names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def check_rows(rows: Iterable[Row], where: str, schema: Schema) -> None:
    """Reject a row that lacks a required field or holds a value of the wrong type.

    The error names the file (or hub table), the record index and the field.
    """
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ObliviateError(
                f"{where}: record {index} is a {type(row).__name__}, expected an object with "
                f"fields {', '.join(schema)}"
            )
        for name, kind in schema.items():
            if name not in row:
                raise ObliviateError(
                    f"{where}: record {index} lacks required field {name!r} "
                    f"(required: {', '.join(schema)}; present: {', '.join(map(str, row)) or 'none'})"
                )
            value = row[name]
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                raise ObliviateError(
                    f"{where}: record {index} field {name!r} is a {type(value).__name__}, "
                    f"expected {_type_names(kind)}"
                )


def _read_file(path: Path) -> list[Row]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [row for _, row in json_lines(path, text)]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # JSON lines in a .json file (as TOFU's hub files are)
            return [row for _, row in json_lines(path, text)]
        raise ObliviateError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise ObliviateError(f"{path}: top level is a {type(data).__name__}; expected a list")
    return data


def read_file(path: Path) -> Table:
    """One local ``.json`` / ``.jsonl`` / ``.parquet`` file as a table."""
    return Table(_read_file(path), str(path))


def local_candidates(root: Path, config: str, split: str, hub_file: str = "") -> list[Path]:
    """The files (or parquet globs) that may hold (config, split) under ``root``, in order."""
    out = [root / hub_file] if hub_file else []
    out += [root / config / f"{split}{ext}" for ext in EXTENSIONS]
    out += [root / config / f"{split}-*.parquet", root / config / split / "*.parquet"]
    out += [root / f"{config}{ext}" for ext in EXTENSIONS]
    return out


def read_local(root: Path, config: str, split: str, hub_file: str = "") -> Table:
    """Read (config, split) from a local copy laid out as on the hub (see module docstring)."""
    if not root.is_dir():
        raise ObliviateError(f"benchmark.path={str(root)!r} is not a directory")
    tried = local_candidates(root, config, split, hub_file)
    for cand in tried:
        if "*" in cand.name:
            parts = sorted(cand.parent.glob(cand.name)) if cand.parent.is_dir() else []
            if parts:
                return Table([r for p in parts for r in _read_file(p)], str(parts[0]))
        elif cand.is_file():
            return Table(_read_file(cand), str(cand))
    listed = ", ".join(str(p.relative_to(root)) for p in tried)
    raise ObliviateError(
        f"benchmark.path={str(root)!r}: no file for config {config!r} split {split!r}; "
        f"tried {listed}"
    )


def read_hub(
    repo: str,
    config: str,
    split: str,
    keep: Callable[[Row], bool] | None = None,
    required: list[str] | None = None,
    revision: str = "",
) -> Table:
    """``datasets.load_dataset(repo, name=config, split=split[, revision=revision])`` as rows
    (filtered by ``keep``).

    The ``required`` columns are checked before filtering, so ``keep`` can read them.
    """
    at = f"@{revision}" if revision else ""
    where = f"{repo}{at} [config {config!r}, split {split!r}]"
    try:
        from datasets import load_dataset

        kwargs = {"revision": revision} if revision else {}
        dataset = load_dataset(repo, name=config, split=split, **kwargs)
    except Exception as exc:  # network, auth, unknown config: one readable error
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ObliviateError(
            f"could not load {where} from the hub: {first}; for offline use set "
            "benchmark.path to a local copy laid out as on the hub"
        ) from None
    missing = [c for c in required or [] if c not in dataset.column_names]
    if missing:
        raise ObliviateError(
            f"{where}: record 0 lacks required field {missing[0]!r} "
            f"(columns: {', '.join(dataset.column_names)})"
        )
    if keep is not None:
        dataset = dataset.filter(keep)
        where += " (rows of the selected targets)"
    return Table(dataset.to_list(), where)


def read_table(
    repo: str,
    path: str,
    config: str,
    split: str,
    schema: Schema,
    hub_file: str = "",
    keep: Callable[[Row], bool] | None = None,
) -> Table:
    """Rows of (config, split) from the hub (``path`` empty) or a local copy, checked against
    ``schema`` and filtered by ``keep`` (applied after the check)."""
    if path:
        table = read_local(Path(path).expanduser(), config, split, hub_file)
        check_rows(table.rows, table.where, schema)
        rows = [r for r in table.rows if keep(r)] if keep is not None else table.rows
        return Table(rows, table.where)
    table = read_hub(repo, config, split, keep, list(schema))
    check_rows(table.rows, table.where, schema)
    return table
