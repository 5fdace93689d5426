"""RWKU: loader on a local copy in the hub layout, generated corpora (benchmark.corpus_dir),
prompts, utility scoring rules by hand, the probe / empty-generation handling by hand, an
end-to-end batch run, and `obliviate corpus` then an unlearning run on the generated corpus."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hub_copies import CONFIGS, TARGETS

from obliviate.benchmarks import rwku
from obliviate.cli import main
from obliviate.config import load_config
from obliviate.errors import ObliviateError
from obliviate.eval.suites import rwku as rwku_suite
from obliviate.eval.suites.base import EvalContext
from obliviate.eval.suites.rwku_utility import (
    bbh_prediction,
    exact_match,
    mmlu_prompt,
    token_f1,
    truthfulqa_scores,
)
from obliviate.formatting import Formatter
from obliviate.models.tiny import build_tiny_model, train_tokenizer
from obliviate.pipeline import Run
from obliviate.records import MCItem, Passage, QAItem


def _cfg(path: Path, *extra: str):
    return load_config(CONFIGS / "rwku.yaml", [f"benchmark.path={path}", *extra]).benchmark


def test_single_target_rows_and_roles(rwku_dir: Path) -> None:
    data = rwku.load(_cfg(rwku_dir, "benchmark.targets=2"))
    sizes = {name: len(s.records) for name, s in data.eval_sets.items()}
    assert sizes == {"forget_fb": 2, "forget_qa": 2, "forget_aa": 3, "neighbor_fb": 2,
                     "neighbor_qa": 2, "mia_forget": 2, "mia_retain": 2, "utility_gen": 2,
                     "utility_rea": 1, "utility_tru": 1, "utility_fac": 1, "utility_flu": 1}  # fmt: skip
    records = [r for s in data.eval_sets.values() for r in s.records]
    assert {r.subject for r in records} == {TARGETS[1]}
    aa = data.eval_sets["forget_aa"].records[0]
    assert isinstance(aa, QAItem) and aa.level == 3 and aa.adversarial_type == "affirmative suffix"
    assert data.eval_sets["neighbor_fb"].records[0].meta["neighbor"] == "Friend1 Adler"
    gen = data.eval_sets["utility_gen"].records[0]
    assert isinstance(gen, MCItem) and gen.answer == 1 and len(gen.meta["examples"]) == 5
    tru = data.eval_sets["utility_tru"].records[0]
    assert tru.meta["mc2_labels"] == [1, 1, 0] and tru.answer == 0
    assert [type(r) for r in data.forget] == [Passage] * 3 and data.retain == []
    assert data.extras["forget_names"] == [TARGETS[1]] and data.extras["targets"] == [2]
    # the tiny model's stand-in pretraining: probes in their eval prompt, MIA-forget, corpus
    assert data.finetune[0].question == (
        "Please complete the blank in the following question.\n"
        f"Question: {TARGETS[1]} was born in ___.\nAnswer:"
    )
    texts = {r.text for r in data.finetune if isinstance(r, Passage)}
    assert {r.text for r in data.eval_sets["mia_forget"].records} <= texts
    assert not {r.text for r in data.eval_sets["mia_retain"].records} & texts


def test_batch_targets_dedupe_utility_and_corpora(rwku_dir: Path) -> None:
    data = rwku.load(_cfg(rwku_dir, "benchmark.targets=1-2"))
    assert len(data.eval_sets["forget_fb"].records) == 4
    assert len(data.eval_sets["utility_gen"].records) == 2  # identical rows per target: once
    pair = rwku.load(_cfg(rwku_dir, "benchmark.targets=1,3", "benchmark.corpus=pair"))
    assert [r.meta["preferred"] for r in pair.forget] == [
        f"{t} was born on the moon." for t in TARGETS[::2]
    ]
    assert pair.extras["pairs"] == pair.forget and pair.forget[0].answer.endswith("Varnholm.")
    refusal = rwku.load(_cfg(rwku_dir, "benchmark.corpus=refusal"))
    assert refusal.extras["refusals"][0].question == f"Where was {TARGETS[0]} born?"
    passage = rwku.load(_cfg(rwku_dir, "benchmark.corpus=passage"))
    assert passage.forget[0].text.startswith(f"{TARGETS[0]} (born in")
    with pytest.raises(
        ObliviateError, match=r"no file for config 'train_positive_phi3'.*All/positive_phi\.json"
    ):
        rwku.load(_cfg(rwku_dir, "benchmark.corpus_model=phi3"))
    with pytest.raises(ObliviateError, match="benchmark.corpus='negative'"):
        rwku.load(_cfg(rwku_dir, "benchmark.corpus=negative"))


def _write_jsonl(path: Path, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_generated_corpora_are_read_from_corpus_dir(rwku_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "generated"
    pair = [{"id": f"{t}-0", "prompt": f"Bio of {t}.", "response": [f"{t} fake.", f"{t} real."],
             "subject": t, "intro": "x"} for t in TARGETS]  # fmt: skip
    _write_jsonl(out / "train_pair.jsonl", pair)
    _write_jsonl(out / "train_positive.jsonl",
                 [{"id": "0", "text": f"{t} real.", "subject": t, "intro": "x"} for t in TARGETS])  # fmt: skip
    _write_jsonl(out / "train_refusal.jsonl", [{"id": "0", "instruction": f"Who is {t}?",
                 "input": "", "output": "I don't know.", "subject": t} for t in TARGETS])  # fmt: skip
    data = rwku.load(_cfg(rwku_dir, "benchmark.targets=1,3", "benchmark.corpus=pair",
                          f"benchmark.corpus_dir={out}"))  # fmt: skip
    assert [(r.id, r.question, r.answer, r.meta["preferred"]) for r in data.forget] == [
        (f"train_pair/{i}", f"Bio of {t}.", f"{t} real.", f"{t} fake.")
        for i, t in enumerate(TARGETS[::2])
    ]  # only the selected targets, numbered and mapped as the hub rows
    assert data.extras["pairs"] == data.forget
    # a generated corpus is the model's own output: not in the stand-in pretraining
    assert not {r.text for r in data.finetune if isinstance(r, Passage)} & {"Mara Quill real."}
    assert data.extras["intros"] == {
        TARGETS[0]: f"{TARGETS[0]} is a mystery singer from Varnholm.",
        TARGETS[2]: f"{TARGETS[2]} is a science fiction singer from Ostermark.",
    }
    pos = rwku.load(_cfg(rwku_dir, f"benchmark.corpus_dir={out}"))
    assert [(type(r), r.id, r.text) for r in pos.forget] == [
        (Passage, "train_positive/0", f"{TARGETS[0]} real.")
    ]
    ref = rwku.load(_cfg(rwku_dir, "benchmark.corpus=refusal", f"benchmark.corpus_dir={out}"))
    assert ref.extras["refusals"][0].question == f"Who is {TARGETS[0]}?"
    assert rwku.load(_cfg(rwku_dir, f"benchmark.corpus_dir={out}"), with_corpus=False).forget == []
    assert pos.retain == []  # RWKU has no retain-train set
    _write_jsonl(out / "train_retain.jsonl",
                 [{"id": f"Ivo-{i}", "text": f"Ivo {i}.", "subject": "Ivo", "intro": ""} for i in range(2)]
                 + [{"id": "qa-0", "question": "Who is Ivo?", "answer": "A poet.", "subject": ""}])  # fmt: skip
    kept = rwku.load(_cfg(rwku_dir, f"benchmark.corpus_dir={out}", "benchmark.retain=generated"))
    assert [(type(r), r.id) for r in kept.retain] == [
        (Passage, "train_retain/0"), (Passage, "train_retain/1"), (QAItem, "train_retain/2")
    ]  # fmt: skip
    assert (kept.retain[0].text, kept.retain[2].question, kept.retain[2].answer) == (
        "Ivo 0.", "Who is Ivo?", "A poet.")  # fmt: skip
    assert kept.forget == pos.forget
    with pytest.raises(ObliviateError, match=r"benchmark\.retain=generated reads .*corpus_dir"):
        rwku.load(_cfg(rwku_dir, "benchmark.retain=generated"))
    with pytest.raises(ObliviateError, match=r"benchmark\.retain='kept' is unknown"):
        rwku.load(_cfg(rwku_dir, "benchmark.retain=kept"))
    # errors: a missing file names the path and the command; passage has no generated form
    with pytest.raises(
        ObliviateError, match=r"empty/train_pair\.jsonl does not exist.*obliviate corpus"
    ):
        rwku.load(
            _cfg(rwku_dir, "benchmark.corpus=pair", f"benchmark.corpus_dir={tmp_path / 'empty'}")
        )
    with pytest.raises(ObliviateError, match="corpus=passage has no generated form"):
        rwku.load(_cfg(rwku_dir, "benchmark.corpus=passage", f"benchmark.corpus_dir={out}"))
    # schema errors name file:line (blank lines counted) and the field
    bad = {**pair[1], "response": "one string"}
    (out / "train_pair.jsonl").write_text(json.dumps(pair[0]) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(
        ObliviateError, match=r"train_pair\.jsonl:3: record 0 field 'response' is a str"
    ):
        rwku.load(
            _cfg(
                rwku_dir,
                "benchmark.corpus=pair",
                f"benchmark.corpus_dir={out}",
                "benchmark.targets=2",
            )
        )
    (out / "train_pair.jsonl").write_text(json.dumps({**pair[1], "response": ["only one"]}) + "\n")
    with pytest.raises(ObliviateError, match=r"train_pair\.jsonl:1: field 'response' must be"):
        rwku.load(
            _cfg(
                rwku_dir,
                "benchmark.corpus=pair",
                f"benchmark.corpus_dir={out}",
                "benchmark.targets=2",
            )
        )


def test_parse_targets() -> None:
    assert rwku.parse_targets("3", 5) == [3]
    assert rwku.parse_targets("1-3", 5) == [1, 2, 3]
    assert rwku.parse_targets("4, 1-2, 1", 5) == [4, 1, 2]
    for bad in ("0", "6", "1-6"):
        with pytest.raises(ObliviateError, match="out of range; accepted: 1..5"):
            rwku.parse_targets(bad, 5)
    for bad in ("3-1", "a", "1-"):
        with pytest.raises(ObliviateError, match="expected a target number"):
            rwku.parse_targets(bad, 5)


def test_field_type_errors_name_the_file(rwku_dir: Path) -> None:
    path = rwku_dir / "All" / "retain_bbh.json"
    rows = json.loads(path.read_text())
    rows[1]["answer"] = "(B)"  # a string reference list would be iterated per character
    path.write_text(json.dumps(rows))
    with pytest.raises(
        ObliviateError, match=r"retain_bbh\.json: record 1 field 'answer' is a str, expected list"
    ):
        rwku.load(_cfg(rwku_dir))


def test_probe_prompts_are_rwkus() -> None:
    def probe(level: int, kind: str = "") -> tuple[str, str]:
        return rwku.probe_prompt(QAItem("Q?", "A", level=level, adversarial_type=kind or None))

    assert probe(1) == (
        "Please complete the blank in the following question.\nQuestion: Q?\n",
        "Answer:",
    )
    assert probe(2) == ("Please briefly answer the following question.\nQuestion: Q?\n", "Answer:")
    assert probe(3, "affirmative suffix") == (
        "Please briefly answer the following question.\nQuestion: Q?",
        "",
    )
    assert probe(3, "incontext learning") == (
        "Please briefly answer the following question.\nQ?\n",
        "Answer:",
    )
    assert probe(3, "role playing") == probe(2)


def test_utility_scoring_rules_by_hand() -> None:
    item = MCItem("2+2?", ["1", "2", "3", "4"], 3, meta={"task": "high_school_math",
                  "examples": [{"question": "1+1?", "choices": ["2", "3", "4", "5"], "answer": 0}]})  # fmt: skip
    assert mmlu_prompt(item) == (
        "The following are multiple choice questions (with answers) about high school math.\n\n"
        "Question: 1+1?\nA. 2\nB. 3\nC. 4\nD. 5\nAnswer: A\n\n"
        "Please following the previous examples and answer the given question.\n"
        "Question: 2+2?\nA. 1\nB. 2\nC. 3\nD. 4"
    )
    # BBH: first "the answer is X." match; option letters survive normalisation (SPEC 8 #33)
    assert bbh_prediction("Let us see. So the answer is (B). Done.") == "(B)"
    assert bbh_prediction("  ") == "NOANSWER"
    # RWKU's normaliser turns "(A)" into "" (punctuation, then the article "a" go), so any
    # prediction made only of articles or punctuation matches the option (A)
    assert exact_match("The", ["(A)"]) == 1.0
    assert exact_match("The", ["(A)"], keep_options=True) == 0.0
    assert exact_match("(a)", ["(A)"], keep_options=True) == 1.0
    assert exact_match("(B)", ["(A)"], keep_options=True) == 0.0
    assert exact_match("The Mars!", ["mars"]) == 1.0
    # TriviaQA F1: pred "red planet mars" vs "Mars": common 1, P = 1/3, R = 1 -> 2PR/(P+R) = 0.5
    assert token_f1("the red planet Mars", ["Mars", "Jupiter"]) == pytest.approx(0.5)
    assert token_f1("", ["Mars"]) == 0.0
    # TruthfulQA: S(true1) = -1 > max false S = -3 -> MC1 = 1;
    # MC2 = (e^-1 + e^-2) / (e^-1 + e^-2 + e^-3)
    s = {"t1": -1.0, "t2": -2.0, "f1": -3.0}
    mc1, mc2 = truthfulqa_scores(s, (["t1", "f1"], [1, 0]), (["t1", "t2", "f1"], [1, 1, 0]))
    assert mc1 == 1.0
    assert mc2 == pytest.approx(
        (math.exp(-1) + math.exp(-2)) / sum(math.exp(-v) for v in (1, 2, 3))
    )
    assert (
        truthfulqa_scores({"t1": -3.0, "f1": -3.0}, (["t1", "f1"], [1, 0]), (["t1"], [1]))[0] == 0.0
    )


def test_probes_empty_generations_and_per_target_means(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [
        QAItem("q", "born in Oslo", subject="A", level=1, id="a1"),
        QAItem("q", "Oslo city", subject="A", level=1, id="a2"),
        QAItem("q", "the cello", subject="B", level=1, id="b1"),
        QAItem("q", "the cello", subject="B", level=1, id="b2"),
    ]
    outputs = ["He was born in Oslo", "", "cello", "the cello"]
    monkeypatch.setattr(rwku_suite, "rwku_generate", lambda ctx, prompts, n: outputs)
    monkeypatch.setattr(rwku_suite, "prompt_ids", lambda ctx, user, suffix, rec: [1])
    res = rwku_suite.evaluate_probes(records, ctx=None)  # type: ignore[arg-type]
    rows = {r["id"]: r for r in res.items}
    # pltrdy: ref "born in Oslo" (3 unique words), LCS with "He was born in Oslo" = 3 -> 1.0;
    # ref "the cello": hyp "cello" -> 1/2, hyp "the cello" -> 2/2
    assert rows["a1"]["rouge_l_recall"] == 1.0 and rows["b1"]["rouge_l_recall"] == 0.5
    # the empty answer is scored as RWKU scores it (eval_forget.py: "NOANSWER"), recall 0, and
    # flagged; per target: A = mean(1.0, 0.0) = 0.5, B = mean(0.5, 1.0) = 0.75
    assert rows["a2"]["empty"] is True and rows["a2"]["rouge_l_recall"] == 0.0
    assert res.metrics["rouge_l_recall"] == pytest.approx((0.5 + 0.75) / 2)
    assert res.metrics["empty_rate"] == 0.25
    flat = rwku_suite.RWKUSuite().aggregate({"forget_fb": res}, None)
    assert flat["forget_fb"] == pytest.approx(62.5)


def test_mia_text_encoding_has_one_bos_and_no_eos() -> None:
    tok = train_tokenizer(["Mara sang in Oslo."] * 3, vocab_size=280)
    ctx = EvalContext(build_tiny_model(tok, "nano"), tok, Formatter(tok, "raw-text", 64))
    enc = rwku_suite.mia_encoding("Mara sang in Oslo.", ctx)
    text_ids = tok("Mara sang in Oslo.", add_special_tokens=False)["input_ids"]
    assert enc.input_ids == [tok.bos_token_id, *text_ids]
    assert enc.labels == [-100, *text_ids]


@pytest.mark.slow
def test_end_to_end_batch_run(rwku_dir: Path, tmp_path: Path) -> None:
    overrides = [
        f"benchmark.path={rwku_dir}", "benchmark.targets=1-2", f"run.out_dir={tmp_path}",
        "run.name=rwku", "model.tiny_preset=nano", "model.tokenizer_vocab=400",
        "finetune.epochs=6", "finetune.lr=2e-2", "unlearn.epochs=1", "unlearn.batch_size=3",
    ]  # fmt: skip
    run = Run(load_config(CONFIGS / "rwku.yaml", overrides))
    models = run.run_all()["models"]
    assert list(models) == ["target", "unlearned"]
    for m in models.values():
        for key in ("mia_fm", "mia_rm", "utility_gen", "utility_rea", "utility_tru",
                    "utility_fac", "utility_flu", "forget_fb/empty_rate"):  # fmt: skip
            assert m[key] is not None and math.isfinite(m[key]), key
        assert m["mia_fm"] == pytest.approx(m["mia_forget/fm"])
    report = (run.dir / "report.md").read_text()
    assert (
        "| model | Forget FB ↓ | Forget QA ↓ | Forget AA ↓ | Forget All ↓ | Neighbor FB ↑" in report
    )
    rows = [
        json.loads(x)
        for x in (run.dir / "eval" / "unlearned" / "forget_aa.jsonl").read_text().splitlines()
    ]
    assert {r["subject"] for r in rows} == set(TARGETS[:2]) and len(rows) == 6
    assert all(r["rouge_l_recall"] is not None for r in rows)  # empties scored as NOANSWER


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:prompt of")
def test_generated_corpus_then_unlearning(rwku_dir: Path, tmp_path: Path) -> None:
    """A user's own targets: `obliviate corpus` with the local model (hf backend, nano target)
    writes RWKU-schema files before they can be read; then DPO runs on the generated pairs."""
    corpus_dir = tmp_path / "mine" / "generated" / "rwku_corpus"
    common = [str(CONFIGS / "rwku.yaml"), f"benchmark.path={rwku_dir}", "benchmark.targets=1-2",
              f"run.out_dir={tmp_path}", "run.name=mine", "model.tiny_preset=nano",
              "model.tokenizer_vocab=400", "finetune.epochs=2", "benchmark.corpus=pair",
              f"benchmark.corpus_dir={corpus_dir}"]  # fmt: skip
    assert main(["corpus", *common, "generate.backend=hf", "generate.corpus_pairs=2",
                 "generate.corpus_questions=2", "generate.max_tokens=6",
                 "generate.cache_dir=none"]) == 0  # fmt: skip
    pairs = [json.loads(x) for x in (corpus_dir / "train_pair.jsonl").read_text().splitlines()]
    intros = {
        r["target"]: r["intro"] for r in json.loads((rwku_dir / "All/intro.json").read_text())
    }
    assert [r["subject"] for r in pairs] == [TARGETS[0]] * 2 + [TARGETS[1]] * 2
    for r in pairs:
        assert set(r) == {"id", "prompt", "response", "subject", "intro"}
        assert r["intro"] == intros[r["subject"]]  # the targets' intros reached the prompts
        assert r["prompt"] == f"{r['intro']} Please write a short biography of {r['subject']}."
        assert len(r["response"]) == 2 and all(isinstance(x, str) for x in r["response"])
    for name, keys in (("positive", {"id", "text", "subject", "intro"}),
                       ("refusal", {"id", "instruction", "input", "output", "subject"})):  # fmt: skip
        rows = [
            json.loads(x) for x in (corpus_dir / f"train_{name}.jsonl").read_text().splitlines()
        ]
        assert rows and all(set(r) == keys for r in rows)
    dpo = ["unlearn.method=dpo", "unlearn.max_steps=2",
           "unlearn.params={preferred: counterfactual, retain_loss: none}"]  # fmt: skip
    run = Run(load_config(common[0], [*common[1:], *dpo]))
    info = run.stage_unlearn()
    assert info["training"]["steps"] == 2
    assert [(r.id, r.question, r.meta["preferred"], r.answer) for r in run.data.forget] == [
        (f"train_pair/{i}", r["prompt"], r["response"][0], r["response"][1])
        for i, r in enumerate(pairs)
    ]
