"""``generate.forget_questions``: the model's own greedy answers about a forget target, written
into the forget corpus (``train_positive.jsonl``) after the biographies and read back as
question/answer forget records; a training question that is a probe is refused (train-on-test);
the forget and retain questions of configs/real_quickstart_questions.yaml are no probes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from obliviate.benchmarks import rwku
from obliviate.config import load_config
from obliviate.errors import ObliviateError
from obliviate.generate.rwku import Target, corpus_files, forget_answers, retain_answers
from obliviate.generation.backend import Backend
from obliviate.records import Passage, QAItem

ROOT = Path(__file__).resolve().parents[2]  # the repository
REAL = ROOT / "configs" / "real_quickstart_questions.yaml"


class Scripted(Backend):
    """Answers each question with a fixed reply (two lines: only the first is kept)."""

    kind = "scripted"

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.seen: list[list[dict[str, str]]] = []

    def _complete(self, conversations, sampling):
        self.seen += conversations
        return [[self.replies[c[-1]["content"]]] for c in conversations]


def test_forget_answers_go_to_the_positive_corpus_after_the_biographies(tmp_path: Path) -> None:
    target = Target("Mara Quill", "Mara Quill is a singer.")
    backend = Scripted({"Who sang Blue Fjord?": "Mara Quill sang it.\nMore.",
                        "Who is Ivo?": "A poet.", "Who wrote Quiet?": ""})  # fmt: skip
    qa = forget_answers(backend, target, ["Who sang Blue Fjord?", "Who wrote Quiet?"])
    assert [c for c in backend.seen] == [[{"role": "user", "content": "Who sang Blue Fjord?"}],
                                         [{"role": "user", "content": "Who wrote Quiet?"}]]  # fmt: skip
    bio = {"subject": target.subject, "intro": target.intro, "real": ["Mara Quill sings."],
           "fake": [], "questions": []}  # fmt: skip
    files = corpus_files([qa, bio, retain_answers(backend, ["Who is Ivo?"])], ("positive",))
    assert files["train_positive"] == [
        {"id": "Mara Quill-0", "text": "Mara Quill sings.", "subject": "Mara Quill",
         "intro": target.intro},
        {"id": "Mara Quill-qa-0", "question": "Who sang Blue Fjord?",
         "answer": "Mara Quill sang it.", "subject": "Mara Quill", "intro": target.intro},
    ]  # the empty answer is dropped; the retain answer is not forgotten  # fmt: skip
    assert [r["question"] for r in files["train_retain"]] == ["Who is Ivo?"]


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_question_rows_are_forget_records_and_probes_are_refused(
    rwku_dir: Path, tmp_path: Path
) -> None:
    cfg = load_config(ROOT / "configs" / "rwku.yaml", [f"benchmark.path={rwku_dir}"]).benchmark
    subject = rwku.load(cfg, with_corpus=False).extras["forget_names"][0]
    probe = rwku.load(cfg, with_corpus=False).eval_sets["forget_qa"].records[0]
    out = tmp_path / "gen"
    bio = {"id": "0", "text": f"{subject} bio.", "subject": subject, "intro": ""}
    qa = {"id": "1", "question": f"What did {subject} sing in 1990?", "answer": "Blue Fjord.",
          "subject": subject, "intro": ""}  # fmt: skip
    _write(out / "train_positive.jsonl", [bio, qa, {**qa, "subject": "Someone Else"}])
    cfg.corpus_dir = str(out)
    data = rwku.load(cfg)
    assert [(type(r), r.id) for r in data.forget] == [
        (Passage, "train_positive/0"), (QAItem, "train_positive/1")
    ]  # only the selected target's rows  # fmt: skip
    assert (data.forget[1].question, data.forget[1].answer) == (qa["question"], "Blue Fjord.")
    # a probe query, or its RWKU eval prompt, as a training question: train-on-test
    for question in (probe.question.upper() + " ", rwku.probe_prompt(probe)[0]):
        _write(out / "train_positive.jsonl", [bio, {**qa, "question": question}])
        with pytest.raises(ObliviateError, match="is a forget_qa probe.*train-on-test"):
            rwku.load(cfg)
    _write(out / "train_positive.jsonl", [bio])
    _write(out / "train_retain.jsonl", [{"id": "qa-0", "question": probe.question,
                                         "answer": "x", "subject": ""}])  # fmt: skip
    cfg.retain = "generated"
    with pytest.raises(ObliviateError, match="train_retain/0.*train-on-test"):
        rwku.load(cfg)


def test_shipped_real_quickstart_questions_are_no_probes() -> None:
    cfg = load_config(REAL, [f"benchmark.path={ROOT / 'configs' / 'real_quickstart'}"])
    g, data = cfg.generate, rwku.load(cfg.benchmark, with_corpus=False)
    assert set(g.forget_questions) == set(data.extras["forget_names"]) == {"J.K. Rowling"}
    asked = [QAItem(q, "", subject=s, id=f"forget/{i}")
             for s, qs in g.forget_questions.items() for i, q in enumerate(qs)]  # fmt: skip
    asked += [QAItem(q, "", id=f"retain/{i}") for i, q in enumerate(g.retain_questions)]
    assert len(asked) >= 20
    sets = {name: s.records for name, s in data.eval_sets.items()}
    rwku.check_not_probes(asked, sets)  # no question is a forget or neighbour probe
    # the retain questions are about no neighbour (their answers must not teach the probes)
    probes = Path(cfg.benchmark.path) / "All"
    neighbours = {r["neighbor"] for f in ("neighbor_level1.json", "neighbor_level2.json")
                  for r in json.loads((probes / f).read_text())}  # fmt: skip
    works = {
        r["query"].removeprefix("Who wrote ").rstrip("?")
        for r in json.loads((probes / "neighbor_level2.json").read_text())
        if r["query"].startswith("Who wrote ")
    }
    for q in g.retain_questions:
        assert not any(n.split()[-1] in q for n in neighbours), q
        assert not any(w in q for w in works), q
    with pytest.raises(ObliviateError, match="neighbor_qa probe"):
        rwku.check_not_probes([QAItem(sets["neighbor_qa"][0].question, "", id="x")], sets)
