"""synthkb.files: the directory round-trips (records, names and world), errors name the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from obliviate.benchmarks import synthkb
from obliviate.errors import ObliviateError
from obliviate.records import BenchmarkData, Passage, content_hash


@pytest.fixture(scope="module")
def small() -> BenchmarkData:
    return synthkb.build(num_people=12, seed=3, forget_fraction=0.25)


def _without_world(kb: Path) -> None:
    """Make ``kb`` look like a directory of an older ``data synth`` (no world.json)."""
    manifest = json.loads((kb / "manifest.json").read_text())
    manifest["files"] = [e for e in manifest["files"] if e["role"] != "world"]
    (kb / "manifest.json").write_text(json.dumps(manifest))
    (kb / synthkb.WORLD_FILE).unlink()


def test_jsonl_round_trip(small: BenchmarkData, tmp_path: Path) -> None:
    paths = synthkb.write_jsonl(small, tmp_path)
    assert all(p.parent == tmp_path for p in paths)
    assert [p.name for p in paths[-2:]] == ["world.json", "manifest.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    counts = {entry["file"]: entry["count"] for entry in manifest["files"]}
    assert counts["finetune.jsonl"] == len(small.finetune)
    assert counts["people.jsonl"] == counts["world.json"] == len(small.extras["world"].people)
    assert manifest["files"][-1] == {"file": "world.json", "role": "world", "name": "world",
                                     "count": 16}  # fmt: skip
    back = synthkb.read_jsonl(tmp_path / "finetune.jsonl")
    assert [r.to_dict() for r in back] == [r.to_dict() for r in small.finetune]
    for name, es in small.eval_sets.items():
        back = synthkb.read_jsonl(tmp_path / f"eval_{name}.jsonl")
        assert [r.to_dict() for r in back] == [r.to_dict() for r in es.records]
        assert counts[f"eval_{name}.jsonl"] == len(es.records)


def test_load_dir_gives_back_the_built_benchmark(small: BenchmarkData, tmp_path: Path) -> None:
    synthkb.write_jsonl(small, tmp_path)
    back = synthkb.load_dir(tmp_path)
    assert back.name == "synthkb"
    assert back.extras["world"] == small.extras["world"]
    assert isinstance(back.extras["world"], synthkb.World)
    assert back.extras == small.extras
    for pool in ("finetune", "finetune_retain", "forget", "retain", "general"):
        got, want = getattr(back, pool), getattr(small, pool)
        assert [r.to_dict() for r in got] == [r.to_dict() for r in want], pool
    assert list(back.eval_sets) == list(small.eval_sets)
    # what the unlearning stage's data hash reads: the same for the copy as for the build
    assert content_hash(sorted(back.extras.items())) == content_hash(sorted(small.extras.items()))


def test_directory_without_a_world_loads_without_one(small: BenchmarkData, tmp_path: Path) -> None:
    synthkb.write_jsonl(small, tmp_path)
    _without_world(tmp_path)
    back = synthkb.load_dir(tmp_path)
    assert "world" not in back.extras
    assert back.extras["forget_names"] == small.extras["forget_names"]
    assert [r.to_dict() for r in back.forget] == [r.to_dict() for r in small.forget]


def test_listed_world_file_missing_or_foreign_is_named(
    small: BenchmarkData, tmp_path: Path
) -> None:
    kb, other = tmp_path / "kb", tmp_path / "other"
    synthkb.write_jsonl(small, kb)
    synthkb.write_jsonl(synthkb.build(num_people=12, seed=9), other)
    (kb / "world.json").write_bytes((other / "world.json").read_bytes())
    with pytest.raises(ObliviateError, match=r"kb/world\.json: forget target\(s\) .* another"):
        synthkb.load_dir(kb)
    (kb / "world.json").write_text("{}")
    with pytest.raises(ObliviateError, match=r"kb/world\.json: lacks field\(s\) seed, people"):
        synthkb.load_dir(kb)
    (kb / "world.json").unlink()
    with pytest.raises(ObliviateError, match=r"kb/world\.json: the manifest lists the synthkb"):
        synthkb.load_dir(kb)


def test_manifest_errors(small: BenchmarkData, tmp_path: Path) -> None:
    with pytest.raises(ObliviateError, match="no manifest.json"):
        synthkb.load_dir(tmp_path)
    synthkb.write_jsonl(small, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["files"] = [e for e in manifest["files"] if e["name"] != "retain"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ObliviateError, match=r"lists no file for split\(s\) retain"):
        synthkb.load_dir(tmp_path)
    (tmp_path / "manifest.json").write_text('{"files": [{"file": "x"}]}')
    with pytest.raises(ObliviateError, match="not a synthkb manifest"):
        synthkb.load_dir(tmp_path)


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    good = json.dumps(Passage(text="fine").to_dict())
    bad.write_text(f"{good}\n{{not json\n")
    with pytest.raises(ObliviateError, match=r"bad\.jsonl:2"):
        synthkb.read_jsonl(bad)
    bad.write_text("[1]\n")
    with pytest.raises(ObliviateError, match=r"bad\.jsonl:1: expected a JSON object, got list"):
        synthkb.read_jsonl(bad)
