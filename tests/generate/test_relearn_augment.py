"""ReLearn augmentation: the strict leakage check, regeneration rounds, gathering, resume."""

from __future__ import annotations

import pytest

from obliviate.config import load_config
from obliviate.errors import ObliviateError
from obliviate.generate.relearn import (
    LLMAugmenter,
    Pair,
    augment_chunk,
    cjk_ratio,
    clean_question,
    mix_general,
    parse_yes_no,
    preference_pairs,
    relearn_pairs,
    split_chunks,
)
from obliviate.generate.store import generated_path
from obliviate.generation.http import OpenAIBackend
from obliviate.generation.sampling import Sampling
from obliviate.pipeline import Run
from obliviate.records import QAItem

BORN = QAItem(
    "When was Mara Kolb born?", "Mara Kolb was born on 12 March 1961.", subject="Mara Kolb",
    id="f0", meta={"attribute": "birth_date", "value": "12 March 1961"},
)  # fmt: skip
MAIL = QAItem("How can I reach Mara Kolb?", "Write to mara.kolb@lumen.org.", subject="Mara Kolb")


def augmenter(url: str) -> LLMAugmenter:
    return LLMAugmenter(OpenAIBackend(url, "fake", backoff=0.01), Sampling(max_tokens=64))


def test_parse_yes_no_is_strict():
    assert parse_yes_no("Reasoning ... Final answer: No.") is False
    assert parse_yes_no("No personal data? Actually the e-mail is private. Yes") is True
    # the peer's rule ("no" in the last 5 characters) passed these; here they are not a "No"
    assert parse_yes_no("I am not sure, I don't know") is None
    assert parse_yes_no("It is unknown") is None
    assert parse_yes_no("**No**") is False


def test_leakage_check_rejects_the_sensitive_detail(llm_server):
    url, llm = llm_server
    aug = augmenter(url)
    # the item's value verbatim: rejected without asking the judge
    assert aug.leaks([(BORN, "She was born on 12 march 1961, in spring.")], 0) == [True]
    assert llm.count == 0
    # no value known: the judge decides (the fake judge says Yes for digits or "@")
    assert aug.leaks([(MAIL, "Mara Kolb can be reached at mara.kolb@lumen.org.")], 0) == [True]
    assert aug.leaks([(MAIL, "Mara Kolb keeps her contact details private.")], 0) == [False]
    assert llm.count == 2


def test_leaky_answers_are_regenerated(llm_server):
    url, llm = llm_server
    rows = augment_chunk([BORN, MAIL], augmenter(url), rounds=3)
    for row, item in zip(rows, [BORN, MAIL]):
        # original question + four variants, aligned with their vague answers
        assert len(row["questions"]) == 5 and len(row["vague"]) == 5
        assert row["questions"][0] == item.question
        how = ["plainly", "precisely", "informally", "conversely"]
        assert row["questions"][1:] == [f"{h}, {item.question.rstrip('?')}?" for h in how]
        # round 0 echoed the original answer (leak); round 1 answered vaguely
        assert row["vague"] == ["That is a private matter, not shared publicly."] * 5
        assert row["rejected"] == 5
    # a single round keeps nothing, and gathering says so
    rows = augment_chunk([BORN], augmenter(url), rounds=1)
    assert rows[0]["vague"] == [None] * 5
    with pytest.raises(ObliviateError, match="no training pair"):
        relearn_pairs(rows)


ROWS = [
    {"question": "Q0?", "answer": "secret zero", "questions": ["Q0?", "V0a?", "V0b?"],
     "vague": ["one two three four five six seven eight", None, "vague b"]},
    {"question": "Q1?", "answer": "secret one", "questions": ["Q1?", "V1a?"],
     "vague": ["vague 1", "\u4e2d\u6587 answer"]},
]  # fmt: skip


def test_gathering_aligned_seeded_original_opt_in():
    pairs = relearn_pairs(ROWS, completion=False, seed=1)
    # aligned: question i with vague answer i; None and the >1% CJK pair dropped; no original
    assert sorted((p.question, p.answer) for p in pairs) == [
        ("Q0?", "one two three four five six seven eight"), ("Q1?", "vague 1"),
        ("V0b?", "vague b"),
    ]  # fmt: skip
    assert relearn_pairs(ROWS, completion=False, seed=1) == pairs  # seeded
    assert [p.question for p in relearn_pairs(ROWS, completion=False, seed=2)] != [
        p.question for p in pairs
    ] or len(pairs) < 3
    with_original = relearn_pairs(ROWS, include_original=True, completion=False)
    originals = {(p.question, p.answer) for p in with_original if p.kind == "original"}
    assert originals == {("Q0?", "secret zero"), ("Q1?", "secret one")}


def test_completion_items_cut_a_quarter_of_the_words():
    pairs = relearn_pairs(ROWS[:1], seed=0)
    completions = [p for p in pairs if p.kind == "completion"]
    # 8 words -> first ⌊8/4⌋ = 2 words prompt the other 6; "vague b" (2 words) -> ⌊0.5⌋ = 0: none
    assert completions == [Pair("one two", "three four five six seven eight", "completion")]


def test_cjk_ratio_split_chunks_clean_question_and_mixing():
    assert cjk_ratio("\u4e2d\u6587 ab") == pytest.approx(2 / 4)
    text = " ".join(["word"] * 500)  # 2499 characters
    chunks = split_chunks(text, 800)
    assert all(len(c) <= 800 for c in chunks) and " ".join(chunks) == text and len(chunks) == 4
    assert clean_question('\n**Question:** "Where was X born?"\nextra') == "Where was X born?"
    general = [f"g{i}" for i in range(10)]
    picked = mix_general(general, n_pairs=5, ratio=1.2)
    assert len(picked) == 6 and picked == mix_general(general, 5, 1.2)  # int(1.2 * 5), seeded
    assert mix_general(general, 5, 0.0) == []
    with pytest.raises(ObliviateError, match="general_ratio"):
        mix_general([], 5, 1.2)


def test_preference_pairs_prefer_the_vague_answer():
    assert preference_pairs(ROWS[:1]) == [
        ("Q0?", "one two three four five six seven eight", "secret zero"),
        ("V0b?", "vague b", "secret zero"),
    ]


def _run(tmp_path, name: str, url: str, *extra: str) -> Run:
    cfg = load_config(None, [
        f"run.out_dir={tmp_path}", f"run.name={name}", "benchmark.people=8",
        "generate.backend=openai", f"generate.base_url={url}", "generate.model=fake",
        "generate.batch_size=2", "generate.max_retries=0", "generate.retry_backoff=0.01",
        "generate.api_key_env=OBLIVIATE_TEST_KEY", *extra,
    ])  # fmt: skip
    return Run(cfg)


def test_resume_after_interruption_and_no_key_on_disk(llm_server, tmp_path, monkeypatch):
    url, llm = llm_server
    monkeypatch.setenv("OBLIVIATE_TEST_KEY", "sk-never-on-disk-77")
    full = _run(tmp_path, "full", url, "generate.cache_dir=none").stage_generate("relearn")
    total = llm.count
    n_items = len(full)
    assert n_items >= 4 and total > 0
    # interrupted: the server refuses every request after half of them
    llm.count, llm.successes, llm.fail_after = 0, 0, total // 2
    run = _run(tmp_path, "resumed", url, "generate.cache_dir=none")
    with pytest.raises(ObliviateError, match="HTTP 400"):
        run.stage_generate("relearn")
    partial = generated_path(run.dir, "relearn").with_name("relearn.partial.jsonl")
    done = len(partial.read_text().splitlines())
    assert 0 < done < n_items
    # resumed: only the unfinished items are requested, and the result is the full one
    llm.count, llm.fail_after = 0, None
    rows = _run(tmp_path, "resumed", url, "generate.cache_dir=none").stage_generate("relearn")
    assert rows == full
    assert 0 < llm.count < total
    assert not partial.exists()
    # with the cache, a rerun (even in a new run directory) sends nothing
    cache = f"generate.cache_dir={tmp_path / 'cache'}"
    _run(tmp_path, "cached1", url, cache).stage_generate("relearn", force=True)
    llm.count = 0
    again = _run(tmp_path, "cached2", url, cache)
    assert again.stage_generate("relearn", force=True) == full
    assert llm.count == 0
    manifest = generated_path(again.dir, "relearn").with_suffix(".json").read_text()
    assert '"requests": 0' in manifest and f'"cache_hits": {total}' in manifest
    # the key was sent, and never written anywhere
    assert set(llm.auth) == {"Bearer sk-never-on-disk-77"}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert "sk-never-on-disk-77" not in path.read_text(errors="replace"), path
