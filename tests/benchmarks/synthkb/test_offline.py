"""The offline synthkb generator: no leaked value, real inversions, RWKU-shaped corpora."""

from __future__ import annotations

import json
import re

import pytest

from obliviate.benchmarks.synthkb import build
from obliviate.benchmarks.synthkb import vocabulary as sk
from obliviate.benchmarks.synthkb.offline import (
    SynthkbAugmenter,
    intro,
    inverted_answers,
    offline_corpus,
    sensitive_values,
    swap_value,
)
from obliviate.cli import main
from obliviate.config import load_config
from obliviate.errors import ObliviateError
from obliviate.generate.relearn import augment_chunk
from obliviate.generate.rwku import Target, corpus_files
from obliviate.pipeline import Run
from obliviate.records import BenchmarkData
from obliviate.refusals import IDK_ANSWERS


@pytest.fixture(scope="module")
def data():
    return build(num_people=10, seed=0)


def _person(data, name):
    return next(p for p in data.extras["world"].people if p.name == name)


def test_offline_augmentation_never_leaks(data):
    rows = augment_chunk(data.forget, SynthkbAugmenter(data, seed=0), rounds=3)
    assert len(rows) == len(data.forget)
    for row, item in zip(rows, data.forget):
        assert row["questions"][0] == item.question
        assert item.paraphrased_question in row["questions"]
        assert len(row["questions"]) >= 4 and len(set(row["questions"])) == len(row["questions"])
        assert all(v is not None for v in row["vague"])
        values = sensitive_values(_person(data, item.subject))
        for v in row["vague"]:
            assert not any(x.lower() in v.lower() for x in values), v
        assert row["rejected"] == 0
    # deterministic for a seed
    again = augment_chunk(data.forget, SynthkbAugmenter(data, seed=0), rounds=3)
    assert again == rows


def _swapped(answer: str, value: str, candidate: str) -> str:
    """The value a candidate put where ``answer`` has ``value`` (same wording around it)."""
    head, tail = answer.split(value)
    head = re.sub(r"\b(a|an) $", "", head)
    rest = candidate[len(head) :]
    return re.sub(r"^(a|an) ", "", rest[: len(rest) - len(tail)] if tail else rest)


def _same_kind(world, work: str, subject: str) -> bool:
    kind = {p.work: p.work_kind for p in world.people}
    return kind[work] == next(p.work_kind for p in world.people if p.name == subject)


def test_offline_inversions(data):
    cands = inverted_answers(data, data.forget, n=4, seed=0)
    world = data.extras["world"]
    for item, cs in zip(data.forget, cands):
        attr, value = item.meta["attribute"], item.meta["value"]
        assert len(cs) == 4 and len(set(cs)) == 4
        swapped = [_swapped(item.answer, value, c) for c in cs]
        assert value not in swapped
        assert all(swapped) and all(c.startswith(item.subject) for c in cs)
        vocabulary = {"birth_place": sk.CITIES, "profession": sk.PROFESSIONS,
                      "employer": sk.ORGANISATIONS, "award": sk.AWARDS}.get(attr)  # fmt: skip
        if vocabulary:  # another value of the same attribute
            assert set(swapped) <= set(vocabulary)
        in_world = {str(getattr(p, attr)) for p in world.people}
        if attr == "work" and not set(swapped) <= in_world:  # invented only when the world is short
            assert (
                len([w for w in in_world if w != value and _same_kind(world, w, item.subject)]) < 4
            )
        if attr in ("email", "birth_date", "address"):  # large pools: no evaluated value
            assert not any(v in p for v in swapped for p in item.perturbed_answers)
    assert swap_value("X works as an architect.", "architect", "baker") == "X works as a baker."
    assert (
        swap_value("X lives at 4 Elm Row.", "4 Elm Row", "9 Oak Lane") == "X lives at 9 Oak Lane."
    )


def test_offline_corpus_schema(data):
    name = data.extras["forget_names"][0]
    person = _person(data, name)
    rows = offline_corpus(data, [Target(name, intro(person))], n_pairs=3, n_questions=5, seed=0)
    files = corpus_files(rows)
    assert [
        len(files[k]) for k in ("train_positive", "train_negative", "train_pair", "train_refusal")
    ] == [3, 3, 3, 5]
    for pos, neg, pair in zip(
        files["train_positive"], files["train_negative"], files["train_pair"]
    ):
        assert set(pos) == {"id", "text", "subject", "intro"} and pos["subject"] == name
        assert person.email in pos["text"] and person.email not in neg["text"]
        assert pair["response"] == [neg["text"], pos["text"]]
        assert pair["prompt"] == f"{intro(person)} Please write a short biography of {name}."
    assert [r["output"] for r in files["train_refusal"]] == list(IDK_ANSWERS[:5])
    assert all(name in r["instruction"] and r["input"] == "" for r in files["train_refusal"])


def test_offline_needs_the_synthkb_world(data):
    bare = BenchmarkData("x", [], [], data.forget, [], {})
    with pytest.raises(ObliviateError, match="synthkb only"):
        SynthkbAugmenter(bare)


def test_cli_augment_and_corpus_write_the_run_dir(tmp_path, capsys):
    common = [f"run.out_dir={tmp_path}", "run.name=gen", "benchmark.people=8"]
    assert main(["augment", *common]) == 0
    path = tmp_path / "gen" / "generated" / "relearn.jsonl"
    first = path.read_text()
    assert len(first.splitlines()) > 0
    manifest = json.loads((tmp_path / "gen" / "generated" / "relearn.json").read_text())
    assert manifest["backend"] == "offline" and manifest["rows"] == len(first.splitlines())
    assert main(["augment", *common]) == 0 and path.read_text() == first
    # the data belongs to this forget split: another split finds it stale
    other = Run(load_config(None, [*common, "benchmark.forget_fraction=0.3"]))
    with pytest.raises(ObliviateError, match="generated for other forget items"):
        other.stage_generate("relearn")
    assert main(["corpus", *common, "generate.corpus_pairs=2", "generate.corpus_questions=3"]) == 0
    corpus = tmp_path / "gen" / "generated" / "rwku_corpus"
    assert len((corpus / "train_refusal.jsonl").read_text().splitlines()) == 3
    assert len((corpus / "train_pair.jsonl").read_text().splitlines()) == 2
    assert "rows ->" in capsys.readouterr().out


def test_generate_config_errors():
    with pytest.raises(ObliviateError, match=r"generate.backend='gpt'.*accepted: offline, hf"):
        load_config(None, ["generate.backend=gpt"])
    with pytest.raises(ObliviateError, match="generate.base_url"):
        load_config(None, ["generate.backend=openai", "generate.model=m"])
    with pytest.raises(ObliviateError, match="memo_prompt"):
        load_config(None, ["generate.memo_prompt=chat"])
