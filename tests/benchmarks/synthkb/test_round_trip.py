"""A synthkb copy (``obliviate data synth``, then ``benchmark.path``) feeds every offline generator
exactly as the in-memory benchmark: ReLearn augmentation, MEOW inversions, RWKU corpora. A copy
without a world (from an older ``data synth``) loads, and the generator's error names world.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from obliviate.benchmarks import synthkb
from obliviate.benchmarks.synthkb.offline import (
    SynthkbAugmenter,
    intro,
    inverted_answers,
    offline_corpus,
)
from obliviate.cli import main
from obliviate.errors import ObliviateError
from obliviate.generate.relearn import augment_chunk
from obliviate.generate.rwku import Target
from obliviate.records import BenchmarkData

SETTINGS = {"num_people": 10, "seed": 2, "holdout_people": 3}


@pytest.fixture(scope="module")
def built() -> BenchmarkData:
    return synthkb.build(**SETTINGS)


@pytest.fixture(scope="module")
def copy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kb")
    args = ["--people", "10", "--seed", "2", "--holdout", "3"]
    assert main(["data", "synth", "--out", str(out), *args]) == 0
    return out


def _targets(data: BenchmarkData) -> list[Target]:
    people = {p.name: p for p in data.extras["world"].people}
    return [Target(n, intro(people[n])) for n in data.extras["forget_names"]]


def _strip_world(src: Path, dst: Path) -> Path:
    """A copy of ``src`` as an older ``data synth`` wrote it: no world.json in the manifest."""
    dst.mkdir()
    for f in src.iterdir():
        if f.name != synthkb.WORLD_FILE:
            (dst / f.name).write_bytes(f.read_bytes())
    manifest = json.loads((dst / "manifest.json").read_text())
    manifest["files"] = [e for e in manifest["files"] if e["role"] != "world"]
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def test_offline_generators_agree_on_the_copy(built: BenchmarkData, copy_dir: Path) -> None:
    loaded = synthkb.load_dir(copy_dir)
    assert [r.to_dict() for r in loaded.forget] == [r.to_dict() for r in built.forget]
    assert _targets(loaded) == _targets(built)
    for seed in (0, 5):
        relearn = augment_chunk(built.forget, SynthkbAugmenter(built, seed), rounds=3)
        assert augment_chunk(loaded.forget, SynthkbAugmenter(loaded, seed), rounds=3) == relearn
        assert len(relearn) == len(built.forget) and all(row["vague"] for row in relearn)
        meow = inverted_answers(built, built.forget, n=4, seed=seed)
        assert inverted_answers(loaded, loaded.forget, n=4, seed=seed) == meow
        assert all(len(c) == 4 for c in meow)
        corpus = offline_corpus(built, _targets(built), 3, 7, seed)
        assert offline_corpus(loaded, _targets(loaded), 3, 7, seed) == corpus
        assert [len(r["real"]) for r in corpus] == [3] * len(built.extras["forget_names"])


def test_cli_generation_from_the_copy_matches_in_memory(copy_dir: Path, tmp_path: Path) -> None:
    memory = [f"run.out_dir={tmp_path}", "run.name=mem", "benchmark.people=10",
              "benchmark.seed=2", "benchmark.holdout_people=3"]  # fmt: skip
    local = [f"run.out_dir={tmp_path}", "run.name=local", f"benchmark.path={copy_dir}"]
    for args in (memory, local):
        assert main(["augment", *args]) == 0
        assert (
            main(["corpus", *args, "generate.corpus_pairs=2", "generate.corpus_questions=3"]) == 0
        )
    mem, loc = tmp_path / "mem" / "generated", tmp_path / "local" / "generated"
    files = ["relearn.jsonl", "rwku_corpus.jsonl"]
    files += [f"rwku_corpus/train_{k}.jsonl" for k in ("positive", "negative", "pair", "refusal")]
    for name in files:
        assert (loc / name).read_text() == (mem / name).read_text(), name
    assert len((loc / "relearn.jsonl").read_text().splitlines()) > 0


def test_a_copy_without_a_world_is_named(copy_dir: Path, tmp_path: Path, capsys) -> None:
    old = _strip_world(copy_dir, tmp_path / "old")
    loaded = synthkb.load_dir(old)  # trains and evaluates as before
    assert "world" not in loaded.extras and loaded.forget
    targets = [Target(n) for n in loaded.extras["forget_names"]]
    for make in (
        lambda: SynthkbAugmenter(loaded),
        lambda: inverted_answers(loaded, loaded.forget),
        lambda: offline_corpus(loaded, targets, 1, 1),
    ):
        with pytest.raises(ObliviateError, match=r"this synthkb copy has none: .* no world\.json"):
            make()
    args = [f"run.out_dir={tmp_path}", "run.name=old", f"benchmark.path={old}"]
    assert main(["augment", *args]) == 2
    assert "lists no world.json" in capsys.readouterr().err
