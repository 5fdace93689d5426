"""MUSE: loader on hub-schema copies (written here), each metric by hand, and an end-to-end run
that is also a two-fold sustainability sweep (fine-tune, unlearn, evaluate, report)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hub_copies import CONFIGS, write_json

from obliviate.benchmarks import muse
from obliviate.config import load_config
from obliviate.errors import ObliviateError
from obliviate.eval.metrics import muse as mm
from obliviate.eval.suites.base import EvalContext
from obliviate.eval.suites.muse import MUSESuite, SetResult
from obliviate.formatting import Formatter
from obliviate.models.tiny import train_tokenizer
from obliviate.records import Passage, QAItem

TOWNS = ["Varnholm", "Quellstad", "Ostermark", "Lindaro", "Corvina", "Tessaly", "Brenmoor"]


def _story(i: int) -> str:
    town = TOWNS[i % len(TOWNS)]
    return (f"The council of {town} voted on {i % 9 + 1} March to rebuild the old harbour bridge. "
            f"Mayor Ilse {TOWNS[(i * 3 + 1) % 7]}er said the work would cost {i // 7 + 2} million.")  # fmt: skip


def build_muse(root: Path, retain_split: str = "retain_qa") -> Path:
    """A MUSE-News copy in the hub layout (``<config>/<split>.json``): MUSE's fields and value
    types, a handful of rows per split; privleak as MUSE's ``load_data.py`` writes it (a list of
    strings), the rest as lists of objects."""
    stories = [_story(i) for i in range(25)]
    raw = {"forget": stories[0:3], "retain1": stories[3:5], "retain2": stories[5:7],
           "holdout": stories[7:9]}  # fmt: skip
    for split, texts in raw.items():
        write_json(root / "raw" / f"{split}.json", [{"text": t} for t in texts])
    write_json(root / "verbmem" / "forget.json",
               [{"prompt": t[:40], "gt": t[40:]} for t in stories[0:2]])  # fmt: skip
    qa = lambda i: {"question": f"When did the council of {TOWNS[i % 7]} vote?",  # noqa: E731
                    "answer": f"On {i % 9 + 1} March"}  # fmt: skip
    write_json(root / "knowmem" / "forget_qa.json", [qa(0), qa(1)])
    write_json(root / "knowmem" / "forget_qa_icl.json", [qa(2)])
    write_json(root / "knowmem" / f"{retain_split}.json", [qa(3), qa(4)])
    write_json(root / "knowmem" / f"{retain_split}_icl.json", [qa(5)])
    privleak = {
        "forget": stories[0:3],
        "retain": stories[3:5],
        "holdout": [*stories[7:9], *stories[15:17]],
    }
    old = retain_split == "retain2_qa"  # an older revision: privleak's retain split is retain2
    for split, texts in privleak.items():
        name = "retain2" if old and split == "retain" else split
        write_json(root / "privleak" / f"{name}.json", texts)
    for k in (1, 2, 3, 4):  # sust: disjoint pairs; scal: nested, growing
        sust = stories[17 + 2 * (k - 1) : 19 + 2 * (k - 1)]
        write_json(root / "sust" / f"forget_{k}.json", [{"text": t} for t in sust])
        write_json(root / "scal" / f"forget_{k}.json", [{"text": t} for t in stories[0 : k + 1]])
    return root


def _cfg(path: Path, *extra: str):
    return load_config(CONFIGS / "muse.yaml", [f"benchmark.path={path}", *extra]).benchmark


def test_loader_roles_and_sets(tmp_path: Path) -> None:
    root = build_muse(tmp_path / "muse")
    data = muse.load(_cfg(root))
    sizes = {name: len(s.records) for name, s in data.eval_sets.items()}
    assert sizes == {"forget_verbmem": 2, "forget_knowmem": 2, "retain_knowmem": 2,
                     "privleak_forget": 3, "privleak_retain": 2, "privleak_holdout": 4}  # fmt: skip
    assert [r.text for r in data.forget] == [_story(i) for i in range(3)]
    assert [r.text for r in data.retain] == [_story(3), _story(4)]
    verb = data.eval_sets["forget_verbmem"].records[0]
    assert (verb.question, verb.answer) == (_story(0)[:40], _story(0)[40:])
    assert data.extras["icl"]["forget"] == [
        ("When did the council of Ostermark vote?", "On 3 March")
    ]
    assert data.extras["auc_retrain"] == pytest.approx(0.4772)
    trained = {r.text for r in data.finetune if isinstance(r, Passage)}
    holdout = {_story(7), _story(8), _story(15), _story(16)}
    assert not trained & holdout  # never a holdout (non-member) text
    assert {_story(i) for i in range(3)} <= trained
    gold = {r.text for r in data.finetune_retain if isinstance(r, Passage)}
    assert not gold & {_story(i) for i in range(3)}
    qa = [r for r in data.finetune if isinstance(r, QAItem)]
    assert qa[0].question == ("Question: When did the council of Ostermark vote?\nAnswer: On 3 March"
                              "\n\nQuestion: When did the council of Varnholm vote?\nAnswer: ")  # fmt: skip
    fold = muse.load(_cfg(root, "benchmark.fold=sust/2"))
    assert [r.text for r in fold.forget] == [_story(19), _story(20)]
    books = _cfg(root, "benchmark.subset=Books", "benchmark.fold=scal/1")
    with pytest.raises(ObliviateError, match="MUSE-Books has no scal / sust"):
        muse.load(books)


def test_packing_into_musess_training_blocks(tmp_path: Path) -> None:
    """MUSE ``baselines/baselines/dataset.py`` l. 52-72: the ``.txt`` corpus (texts joined with
    "\\n\\n") in consecutive blocks, a short last block filled with the first block's tokens;
    block − 2 tokens each here (the trainer adds BOS and EOS)."""
    tok = train_tokenizer([_story(i) for i in range(9)], vocab_size=300)
    tok.save_pretrained(tmp_path / "tok")
    root = build_muse(tmp_path / "muse")
    data = muse.load(
        _cfg(root, "benchmark.pack_tokens=16", f"benchmark.pack_tokenizer={tmp_path / 'tok'}")
    )
    ids = tok("\n\n".join(_story(i) for i in range(3)), add_special_tokens=False)["input_ids"]
    blocks = [ids[i : i + 14] for i in range(0, len(ids), 14)]
    blocks[-1] = (blocks[-1] + blocks[0])[:14]
    assert [r.text for r in data.forget] == [tok.decode(b) for b in blocks]
    assert data.forget[0].id == "forget/block0" and data.retain[0].id == "retain/block0"
    assert len(data.eval_sets["privleak_forget"].records) == 3  # eval sets are not packed
    with pytest.raises(ObliviateError, match="needs benchmark.pack_tokenizer"):
        muse.load(_cfg(root, "benchmark.pack_tokens=16"))


def test_older_retain2_split_name_is_read(tmp_path: Path) -> None:
    data = muse.load(_cfg(build_muse(tmp_path / "old", retain_split="retain2_qa")))
    assert [r.answer for r in data.eval_sets["retain_knowmem"].records] == [
        "On 4 March",
        "On 5 March",
    ]
    assert data.extras["icl"]["retain"] == [("When did the council of Tessaly vote?", "On 6 March")]
    assert [r.text for r in data.eval_sets["privleak_retain"].records] == [_story(3), _story(4)]


def test_missing_field_names_file_record_and_field(tmp_path: Path) -> None:
    root = build_muse(tmp_path / "muse")
    write_json(root / "knowmem" / "forget_qa.json",
               [{"question": "q0", "answer": "a0"}, {"question": "q1"}])  # fmt: skip
    with pytest.raises(ObliviateError) as err:
        muse.load(_cfg(root))
    msg = str(err.value)
    assert "knowmem/forget_qa.json" in msg and "record 1" in msg and "'answer'" in msg
    with pytest.raises(ObliviateError, match="benchmark.subset='Poems' is not a MUSE corpus"):
        muse.load(_cfg(root, "benchmark.subset=Poems"))


def test_verbmem_rouge_l_f1_by_hand() -> None:
    """MUSE ``metrics/logger.py`` l. 10-13, 18-23: rougeL F-measure, no stemmer.
    gt "the bridge opened in spring" (5 tokens), output "the old bridge opened today" (5):
    LCS = the bridge opened = 3, P = R = 3/5, F1 = 0.6. With a stemmer "opened" and "open" would
    match; unstemmed they do not: gt "bridges open" vs "bridge opened" -> 0."""
    f1, recall = mm.rouge_l("the bridge opened in spring", "the old bridge opened today")
    assert (f1, recall) == (pytest.approx(0.6), pytest.approx(0.6))
    assert mm.rouge_l("bridges open", "bridge opened") == (0.0, 0.0)


def test_verbmem_reference_is_cut_to_128_ids_with_bos() -> None:
    """MUSE ``metrics/verbmem.py`` l. 22, 35-38: ids of ``tokenizer(gt, add_special_tokens=True)``
    cut to max_new_tokens, decoded without special tokens (BOS takes one slot)."""
    tok = train_tokenizer(["one two three four five six seven"] * 3, vocab_size=200)
    ids = tok("one two three four five", add_special_tokens=False)["input_ids"]
    bos = 1 if tok("a")["input_ids"][0] == tok.bos_token_id else 0
    ref = mm.truncated_reference(tok, "one two three four five", 3)
    assert ref == tok.decode(ids[: 3 - bos], skip_special_tokens=True)


def test_knowmem_cut_and_recall_by_hand() -> None:
    """MUSE ``metrics/knowmem.py`` l. 7-9, 50: the output is cut at "\\n\\n" first, then
    "\\nQuestion", then "Question:". "On 5 March 1990\\n\\nQuestion: when ..." -> "On 5 March 1990";
    against "5 March": LCS 2, recall 2/2 = 1, precision 2/4, F1 = 2/3."""
    out = mm.knowmem_cut("On 5 March 1990\n\nQuestion: When did it open?\nAnswer: May")
    assert out == "On 5 March 1990"
    assert mm.knowmem_cut("Lindaro\nQuestion: next") == "Lindaro"
    f1, recall = mm.rouge_l("5 March", out)
    assert (recall, f1) == (pytest.approx(1.0), pytest.approx(2 / 3))
    assert (
        muse.knowmem_prompt("Q?", [("q1", "a1")])
        == "Question: q1\nAnswer: a1\n\nQuestion: Q?\nAnswer: "
    )


def test_privleak_on_fixed_scores_by_hand() -> None:
    """MUSE ``metrics/privleak.py`` l. 43-46 (Min-40%), l. 58-61, 81-90 (AUC of
    ``roc_curve([0]*forget + [1]*holdout, -score)``), ``eval.py`` l. 78 (PrivLeak).
    Min-40% of log-probs [-1, -2, -3, -4, -5]: int(0.4·5) = 2 smallest -> -mean(-5, -4) = 4.5.
    Forget scores [1, 2, 3], holdout [2.5, 4]: pairs with s_forget > s_holdout: (3, 2.5) = 1 of 6
    -> AUC 1/6; PrivLeak vs News' 0.4772: (1/6 − 0.4772)/0.4772·100 = −65.07."""
    assert mm.min_k([-1.0, -2.0, -3.0, -4.0, -5.0], 0.4) == pytest.approx(4.5)
    auc = mm.auc([1.0, 2.0, 3.0], [2.5, 4.0])
    assert auc == pytest.approx(1 / 6)
    assert mm.privleak(auc, muse.AUC_RETRAIN["news"]) == pytest.approx(-65.0747, abs=1e-3)
    suite = MUSESuite()
    suite.auc_retrain = muse.AUC_RETRAIN["news"]
    results = {
        "privleak_forget": SetResult(items=[{"min_k": s} for s in (1.0, 2.0, 3.0)]),
        "privleak_holdout": SetResult(items=[{"min_k": s} for s in (2.5, 4.0)]),
    }
    assert suite.aggregate(results, None)["privleak"] == pytest.approx(-65.0747, abs=1e-3)
    gold = suite.aggregate(results, {"privleak/auc": 0.5})  # the retain model's own AUC wins
    assert gold["privleak"] == pytest.approx((1 / 6 - 0.5) / 0.5 * 100)
    assert gold["privleak_reference"] == "retain model"


def test_knowmem_prompt_ids_start_with_one_bos(tmp_path: Path) -> None:
    from obliviate.eval.suites.muse import prompt_ids

    tok = train_tokenizer(["Question: a\nAnswer: b"] * 3, vocab_size=200)
    ctx = EvalContext(model=None, tokenizer=tok, formatter=Formatter(tok, "raw-text", 64))  # type: ignore[arg-type]
    ids = prompt_ids(ctx, "Question: a\nAnswer: ", 32)
    assert (
        ids[0] == tok.bos_token_id
        and ids[1:] == tok("Question: a\nAnswer: ", add_special_tokens=False)["input_ids"][-31:]
    )


@pytest.mark.slow
def test_end_to_end_sustainability_sweep_of_two_folds(tmp_path: Path) -> None:
    """Fold 1: fine-tune the target and the gold model, unlearn sust/1, evaluate the three,
    report; fold 2 unlearns sust/2 from fold 1's unlearned model. ``obliviate sweep``."""
    from obliviate.cli import main

    root = build_muse(tmp_path / "muse")
    args = ["sweep", "sust", str(CONFIGS / "muse.yaml"), f"benchmark.path={root}",
            f"run.out_dir={tmp_path}", "run.name=m", "model.tiny_preset=nano",
            "model.tokenizer_vocab=400", "model.max_length=256", "finetune.epochs=4",
            "finetune.lr=1e-2", "unlearn.max_steps=2", "unlearn.batch_size=2",
            "--folds", "1,2"]  # fmt: skip
    assert main(args) == 0
    first = json.loads((tmp_path / "m_sust1" / "metrics.json").read_text())["models"]
    assert list(first) == ["target", "retain", "unlearned"]
    assert first["retain"]["privleak"] == pytest.approx(0.0)  # its own AUC is the reference
    for m in first.values():
        for key in ("forget_knowmem", "forget_verbmem", "privleak", "retain_knowmem"):
            assert m[key] is not None and math.isfinite(m[key]), key
        assert m["forget_verbmem"] == pytest.approx(100 * m["forget_verbmem/rouge_l_f1"])
    report = (tmp_path / "m_sust1" / "report.md").read_text()
    assert (
        "| model | VerbMem on D_f ↓ | KnowMem on D_f ↓ | PrivLeak (→ 0) | KnowMem on D_r ↑"
        in report
    )
    assert "against AUC_retrain" in report and "(retain model)." in report
    second = json.loads((tmp_path / "m_sust2" / "metrics.json").read_text())["models"]
    assert list(second) == ["unlearned"]
    # fold 2 starts from fold 1's unlearned model, and keeps fold 1's gold AUC as reference
    config = (tmp_path / "m_sust2" / "config.yaml").read_text()
    assert f"name_or_path: {tmp_path / 'm_sust1' / 'models' / 'unlearned'}" in config
    ref = second["unlearned"]["privleak_auc_retrain"]
    assert ref == pytest.approx(first["retain"]["privleak_auc"])
    sweep = json.loads((tmp_path / "m_sust" / "sweep.json").read_text())
    assert [(r["fold"], r["model"], r.get("forget_size")) for r in sweep["rows"]] == [
        (0, "target", None), (1, "unlearned", 2), (2, "unlearned", 2)]  # fmt: skip
    rows = [json.loads(x) for x in (tmp_path / "m_sust2/eval/unlearned/forget_knowmem.jsonl")
            .read_text().splitlines()]  # fmt: skip
    assert all("\n\n" not in r["generation"] for r in rows)
    assert "| 2 | unlearned | 2 |" in (tmp_path / "m_sust" / "sweep.md").read_text()


@pytest.mark.slow
def test_scalability_sweep_shares_the_target(tmp_path: Path) -> None:
    """scal: every fold unlearns the same target (fold 2 reuses fold 1's models through
    run.base_run) on nested forget sets of growing size."""
    from obliviate.sweep import run_sweep

    root = build_muse(tmp_path / "muse")
    overrides = [f"benchmark.path={root}", f"run.out_dir={tmp_path}", "run.name=s",
                 "model.tiny_preset=nano", "model.tokenizer_vocab=400", "model.max_length=256",
                 "finetune.epochs=2", "unlearn.max_steps=1", "eval.models=[target,unlearned]",
                 "finetune.retain_model=false", "eval.sets=[retain_knowmem]"]  # fmt: skip
    sweep = run_sweep("scal", str(CONFIGS / "muse.yaml"), overrides, [1, 2])
    assert [r.get("forget_size") for r in sweep["rows"]] == [None, 2, 3]
    assert not (tmp_path / "s_scal2" / "models" / "target").exists()
    second = json.loads((tmp_path / "s_scal2" / "metrics.json").read_text())["models"]
    first = json.loads((tmp_path / "s_scal1" / "metrics.json").read_text())["models"]
    assert second["target"] == first["target"]  # the same target, evaluated once
    assert sweep["rows"][2]["retain_knowmem"] is not None  # utility after each fold
    assert sweep["rows"][2]["privleak"] is None  # eval.sets: KnowMem on D_r only


def test_list_benchmarks_names_both_with_their_sets(capsys) -> None:
    from obliviate.cli import main

    assert main(["list", "benchmarks"]) == 0
    out = capsys.readouterr().out
    assert "forget_verbmem, forget_knowmem, retain_knowmem" in out
    assert "wmdp_bio, wmdp_chem, wmdp_cyber" in out


def test_hub_mode_reads_the_real_ids_revision_and_old_split(tmp_path, monkeypatch) -> None:
    """No network: ``datasets.load_dataset`` answers from the local copy, as the hub would
    (an older revision without ``retain_qa``); the loader asks for the real repo, configs and
    the pinned revision, and falls back to ``retain2_qa``."""
    import datasets

    root = build_muse(tmp_path / "muse", retain_split="retain2_qa")
    calls: list[tuple] = []

    def fake_load_dataset(repo, name, split, revision=None):
        calls.append((repo, name, split, revision))
        path = root / name / f"{split}.json"
        if not path.is_file():
            raise ValueError(f"Unknown split {split!r}")
        rows = json.loads(path.read_text())
        return datasets.Dataset.from_list([{"text": r} if isinstance(r, str) else r for r in rows])

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    cfg = load_config(
        CONFIGS / "muse_news.yaml", ["benchmark.revision=abc123", "benchmark.pack_tokens=0"]
    ).benchmark
    data = muse.load(cfg)
    assert {c[0] for c in calls} == {"muse-bench/MUSE-News"} and {c[3] for c in calls} == {"abc123"}
    assert ("muse-bench/MUSE-News", "knowmem", "retain_qa", "abc123") in calls
    assert ("muse-bench/MUSE-News", "knowmem", "retain2_qa", "abc123") in calls
    assert ("muse-bench/MUSE-News", "privleak", "retain2", "abc123") in calls
    assert len(data.eval_sets["retain_knowmem"].records) == 2
    assert data.extras["folds"] == {**{f"scal/{k}": k + 1 for k in range(1, 5)},
                                    **{f"sust/{k}": 2 for k in range(1, 5)}}  # fmt: skip


@pytest.mark.slow
def test_epochs_sweep_picks_the_first_checkpoint_at_the_threshold(tmp_path: Path) -> None:
    """MUSE's checkpoint rule (``baselines/scripts/unlearn_news.sh``: 10 epochs, one checkpoint
    each; the first whose KnowMem on D_f <= the retrained model's): one run per epoch count."""
    from obliviate.sweep import parse_folds, run_sweep

    root = build_muse(tmp_path / "muse")
    overrides = [f"benchmark.path={root}", f"run.out_dir={tmp_path}", "run.name=e",
                 "model.tiny_preset=nano", "model.tokenizer_vocab=400", "model.max_length=256",
                 "finetune.epochs=2", "finetune.retain_model=false", "unlearn.batch_size=4",
                 "eval.models=[target,unlearned]", "eval.sets=[forget_knowmem]"]  # fmt: skip
    none = run_sweep("epochs", str(CONFIGS / "muse.yaml"), overrides, [1, 2], knowmem_max=-1.0)
    assert [r["fold"] for r in none["rows"]] == [0, 1, 2] and none["chosen"] is None
    logs = [json.loads((tmp_path / f"e_epochs{k}/stages/unlearn.json").read_text()) for k in (1, 2)]
    assert logs[1]["training"]["steps"] == 2 * logs[0]["training"]["steps"]
    first = run_sweep("epochs", str(CONFIGS / "muse.yaml"), overrides, [1, 2], knowmem_max=1e3)
    assert first["chosen"] == 1 and [r["fold"] for r in first["rows"]] == [0, 1]  # stops there
    assert (
        "Chosen (first with KnowMem on D_f <= 1000.0): unlearn.epochs=1"
        in (tmp_path / "e_epochs" / "sweep.md").read_text()
    )
    assert parse_folds("1,2,5", "epochs") == [1, 2, 5]
    with pytest.raises(ObliviateError, match="increasing epoch counts"):
        parse_folds("2,1", "epochs")
