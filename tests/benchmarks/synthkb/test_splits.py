"""synthkb.splits: determinism, split hygiene, QA shape, forget and neighbour selection."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace

import pytest

from obliviate.benchmarks import synthkb
from obliviate.benchmarks.synthkb.splits import neighbours_of
from obliviate.errors import ObliviateError
from obliviate.records import BenchmarkData, QAItem, Record, record_texts

# Hashes one build; run both in-process and in fresh interpreters with other hash seeds.
_DIGEST_SRC = """
import hashlib, json
from obliviate.benchmarks import synthkb
data = synthkb.build(num_people=12, seed=5, holdout_people=3)
pools = {"finetune": data.finetune, "finetune_retain": data.finetune_retain}
pools.update({name: es.records for name, es in data.eval_sets.items()})
blob = json.dumps({k: [r.to_dict() for r in v] for k, v in pools.items()}, sort_keys=True)
digest = hashlib.sha256(blob.encode()).hexdigest()
"""


def _dump(data: BenchmarkData) -> str:
    pools: dict[str, list[Record]] = {
        "finetune": data.finetune,
        "finetune_retain": data.finetune_retain,
        "forget": data.forget,
        "retain": data.retain,
    }
    pools.update({name: es.records for name, es in data.eval_sets.items()})
    payload = {k: [r.to_dict() for r in v] for k, v in pools.items()}
    payload["names"] = [data.extras["forget_names"], data.extras["neighbor_names"]]
    return json.dumps(payload, sort_keys=True)


def _texts(records: list[Record]) -> list[str]:
    return [t for rec in records for t in record_texts(rec)]


@pytest.fixture(scope="module")
def data() -> BenchmarkData:
    return synthkb.build()


@pytest.fixture(scope="module")
def small() -> BenchmarkData:
    return synthkb.build(num_people=12, seed=3, forget_fraction=0.25)


def test_same_seed_is_identical_and_other_seed_differs() -> None:
    first = _dump(synthkb.build(num_people=12, seed=7))
    assert first == _dump(synthkb.build(num_people=12, seed=7))
    assert first != _dump(synthkb.build(num_people=12, seed=8))


def test_deterministic_across_processes() -> None:
    scope: dict[str, str] = {}
    exec(_DIGEST_SRC, scope)
    for hash_seed in ("1", "987"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", _DIGEST_SRC + "print(digest)"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        assert out.stdout.strip() == scope["digest"]


def test_default_counts(data: BenchmarkData) -> None:
    per_person = len(synthkb.ATTRIBUTES)
    targets = data.extras["forget_names"]
    assert len(targets) == 4
    forget_domain = per_person * len(targets)
    sizes = {name: len(es.records) for name, es in data.eval_sets.items()}
    assert sizes["forget"] + sizes["forget_val"] == forget_domain
    assert len(data.retain) == per_person * 36
    assert len(data.finetune) == forget_domain + len(data.retain) + sizes["world"]
    assert len(data.finetune_retain) == len(data.retain) + sizes["world"]
    assert sizes["retain"] == synthkb.RETAIN_EVAL_CAP
    assert sizes["holdout"] == per_person * 4
    assert sizes["mia_member"] == 4 and sizes["mia_nonmember"] == 4
    assert sizes["forget_fb"] == sizes["forget_qa"] == forget_domain


def test_no_holdout_text_in_training_splits(data: BenchmarkData) -> None:
    world = data.extras["world"]
    holdout_names = [p.name for p in world.holdout]
    secrets = [r.text for r in data.eval_sets["mia_nonmember"].records]
    secrets += [r.answer for r in data.eval_sets["holdout"].records]
    for split in (data.finetune, data.finetune_retain):
        texts = _texts(split)
        blob = "\n".join(texts)
        for name in holdout_names:
            assert not re.search(rf"\b{re.escape(name)}\b", blob), name
        assert not set(secrets) & set(texts)
        assert not any(secret in blob for secret in secrets)
        assert all(isinstance(r, QAItem) for r in split)


def test_retain_model_never_sees_forget_targets(data: BenchmarkData) -> None:
    targets = set(data.extras["forget_names"])
    assert not {r.subject for r in data.finetune_retain} & targets
    assert not {r.subject for r in data.retain} & targets
    assert not {r.subject for r in data.eval_sets["retain"].records} & targets


def test_forget_splits_partition_the_forget_domain(small: BenchmarkData) -> None:
    targets = set(small.extras["forget_names"])
    train = {r.id for r in small.eval_sets["forget"].records}
    val = {r.id for r in small.eval_sets["forget_val"].records}
    domain = {r.id for r in small.finetune if r.subject in targets}
    assert not train & val
    assert train | val == domain
    assert {r.id for r in small.forget} == train
    for name in targets:
        assert any(r.subject == name for r in small.eval_sets["forget_val"].records)
        assert any(r.subject == name for r in small.eval_sets["forget"].records)


def test_neighbours_are_trained_non_targets(data: BenchmarkData) -> None:
    targets = set(data.extras["forget_names"])
    neighbours = set(data.extras["neighbor_names"])
    assert neighbours and not neighbours & targets
    trained = {p.name for p in data.extras["world"].trained}
    assert neighbours <= trained
    items = data.eval_sets["neighbor"].records
    assert {r.subject for r in items} == neighbours
    assert all(r.kind == "neighbor" for r in items)
    assert neighbours <= {r.subject for r in data.finetune_retain}
    assert not {r.subject for r in data.eval_sets["retain"].records} & neighbours


def test_finetune_items_have_paraphrase_and_perturbations(data: BenchmarkData) -> None:
    for item in data.finetune:
        assert isinstance(item, QAItem)
        assert item.paraphrased_answer and item.paraphrased_answer != item.answer
        assert item.paraphrased_question and item.paraphrased_question != item.question
        assert len(item.perturbed_answers) == 4
        assert len(set(item.perturbed_answers)) == 4
        assert item.answer not in item.perturbed_answers
        assert item.subject in item.question
        assert item.kind in {"qa", "world"}


def test_forget_names_selection(small: BenchmarkData) -> None:
    names = [p.name for p in small.extras["world"].trained]
    chosen = [names[5], names[2]]
    built = synthkb.build(num_people=12, seed=3, forget_names=chosen)
    assert built.extras["forget_names"] == [names[2], names[5]]
    assert {r.subject for r in built.forget} == set(chosen)


def test_unknown_forget_name_is_named() -> None:
    with pytest.raises(ObliviateError, match="Nobody Atall") as info:
        synthkb.build(num_people=12, seed=3, forget_names=["Nobody Atall"])
    assert "accepted names include" in str(info.value)


def test_world_eval_set_asks_about_cities_and_organisations(data: BenchmarkData) -> None:
    world = data.extras["world"]
    items = data.eval_sets["world"].records
    assert len(items) == len(world.countries) + 2 * len(world.organisations) == 20
    assert all(r.kind == "world" for r in items)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"forget_fraction": 0.0}, "forget_fraction is 0.0; accepted: 0 < forget_fraction < 1"),
     ({"val_fraction": 1.0}, "val_fraction is 1.0; accepted: 0 <= val_fraction < 1"),
     ({"forget_names": []}, "forget_names is empty"),
     ({"forget_fraction": 0.99}, "all 4 trained people would be forget targets")],
)  # fmt: skip
def test_build_settings_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ObliviateError, match=message):
        synthkb.build(num_people=4, seed=0, **kwargs)


def test_neighbours_fall_back_to_one_seeded_pick_per_target() -> None:
    people = synthkb.generate_world(5, seed=0, holdout_people=0).people
    a, b, c, d, e = (p.name for p in people)
    ring = {a: b, b: a, c: d, d: e, e: c}  # the two targets name only each other
    trained = [replace(p, relation=ring[p.name]) for p in people]
    assert [p.name for p in neighbours_of(trained, trained[:1], seed=0)] == [b]  # linked
    picked = [p.name for p in neighbours_of(trained, trained[:2], seed=0)]
    assert len(picked) == 2 and set(picked) <= {c, d, e}
    assert picked == [p for p in (c, d, e) if p in picked]  # world order
    assert picked == [p.name for p in neighbours_of(trained, trained[:2], seed=0)]
