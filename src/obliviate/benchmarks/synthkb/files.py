"""synthkb on disk: the directory ``obliviate data synth`` writes and ``benchmark.path`` reads.

::

    <dir>/<split>.jsonl        finetune, finetune_retain, forget, retain, general (records)
    <dir>/eval_<name>.jsonl    one file per evaluation set (records)
    <dir>/people.jsonl         the world's people, one object a line (for reading by eye)
    <dir>/world.json           the whole world (seed, people, cities, organisations)
    <dir>/manifest.json        every file's role, name and record count; the forget and
                               neighbour names

:func:`load_dir` gives back what :func:`obliviate.benchmarks.synthkb.build` made, world included,
so a local copy feeds the offline generator (:mod:`.offline`) exactly as the in-memory benchmark.
A copy whose manifest lists no world (written before ``world.json`` existed) loads without one:
its records train and evaluate as before, and the offline generator's error names ``world.json``.
A manifest that lists a world whose file is missing or malformed is an error naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ...errors import ObliviateError
from ...io import json_lines, read_json, write_atomic
from ...records import BenchmarkData, EvalSet, Record, record_from_dict
from .world import World, world_from_dict, world_to_dict

WORLD_FILE = "world.json"
REQUIRED_SPLITS = ("finetune", "finetune_retain", "forget", "retain")


def _jsonl(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def write_jsonl(data: BenchmarkData, out_dir: Path) -> list[Path]:
    """Write each split (``<split>.jsonl``) and eval set (``eval_<name>.jsonl``) atomically.

    Also writes ``people.jsonl`` and ``world.json`` (when ``extras["world"]`` is a World) and
    ``manifest.json`` with every file's role and record count. Returns the written paths,
    manifest last.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    splits: dict[str, list[Record]] = {
        "finetune": data.finetune,
        "finetune_retain": data.finetune_retain,
        "forget": data.forget,
        "retain": data.retain,
        "general": data.general,
    }
    jobs: list[tuple[str, str, str, list[dict[str, Any]]]] = [
        (f"{name}.jsonl", "split", name, [r.to_dict() for r in recs])
        for name, recs in splits.items()
    ]
    jobs += [
        (f"eval_{name}.jsonl", "eval_set", name, [r.to_dict() for r in es.records])
        for name, es in data.eval_sets.items()
    ]
    world = data.extras.get("world")
    if isinstance(world, World):
        jobs.append(("people.jsonl", "people", "people", [asdict(p) for p in world.people]))
    paths = [write_atomic(out_dir / file, _jsonl(rows)) for file, _, _, rows in jobs]
    entries = [
        {"file": file, "role": role, "name": name, "count": len(rows)}
        for file, role, name, rows in jobs
    ]
    if isinstance(world, World):
        paths.append(write_atomic(out_dir / WORLD_FILE, _json(world_to_dict(world))))
        entries.append({"file": WORLD_FILE, "role": "world", "name": "world",
                        "count": len(world.people)})  # fmt: skip
    manifest = {
        "benchmark": data.name,
        "forget_names": data.extras.get("forget_names", []),
        "neighbor_names": data.extras.get("neighbor_names", []),
        "files": entries,
    }
    paths.append(write_atomic(out_dir / "manifest.json", _json(manifest)))
    return paths


def read_jsonl(path: Path) -> list[Record]:
    """Read records written by ``write_jsonl``; errors name the file and line."""
    path = Path(path)
    records: list[Record] = []
    for lineno, row in json_lines(path):
        where = f"{path}:{lineno}"
        if not isinstance(row, dict):
            raise ObliviateError(f"{where}: expected a JSON object, got {type(row).__name__}")
        records.append(record_from_dict(row, where=where))
    return records


def read_world(path: Path, forget_names: Iterable[str] = ()) -> World:
    """The World in ``path`` (``world.json``); errors name the file. ``forget_names`` must be
    people of that world (a world file copied from another benchmark directory fails here)."""
    path = Path(path)
    if not path.is_file():
        raise ObliviateError(
            f"{path}: the manifest lists the synthkb world but the file is missing "
            "(regenerate the directory with `obliviate data synth`)"
        )
    world = world_from_dict(read_json(path), where=str(path))
    people = {p.name for p in world.people}
    strangers = [n for n in forget_names if n not in people]
    if strangers:
        raise ObliviateError(
            f"{path}: forget target(s) {', '.join(strangers)} of manifest.json are not people "
            "of this world; the world file belongs to another directory"
        )
    return world


def load_dir(path: Path) -> BenchmarkData:
    """Read a directory written by ``write_jsonl`` (``obliviate data synth``) back into a
    BenchmarkData, the world included when the manifest lists it; errors name the file, line
    and field."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise ObliviateError(
            f"benchmark.path={str(path)!r}: no manifest.json (write one with `obliviate data synth`)"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        entries = [(e["file"], e["role"], e["name"]) for e in manifest["files"]]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ObliviateError(f"{manifest_path}: not a synthkb manifest ({exc})") from None
    extras: dict[str, Any] = {k: manifest.get(k, []) for k in ("forget_names", "neighbor_names")}
    splits: dict[str, list[Record]] = {}
    eval_sets: dict[str, EvalSet] = {}
    for file, role, name in entries:
        if role == "split":
            splits[name] = read_jsonl(path / file)
        elif role == "eval_set":
            eval_sets[name] = EvalSet(name, read_jsonl(path / file))
        elif role == "world":
            extras["world"] = read_world(path / file, extras["forget_names"])
    missing = [s for s in REQUIRED_SPLITS if s not in splits]
    if missing:
        raise ObliviateError(f"{manifest_path}: lists no file for split(s) {', '.join(missing)}")
    return BenchmarkData(
        name="synthkb",
        finetune=splits["finetune"],
        finetune_retain=splits["finetune_retain"],
        forget=splits["forget"],
        retain=splits["retain"],
        general=splits.get("general", []),
        eval_sets=eval_sets,
        extras=extras,
    )
