"""The local transformers backend on the nano model, and the three pipelines running on it (the
outputs of an untrained model are poor: the plumbing is what is tested)."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch

from obliviate.errors import ObliviateError
from obliviate.eval.memo import memo_scores
from obliviate.generate.meow import llm_candidates, memo_rows
from obliviate.generate.relearn import LLMAugmenter, augment_chunk
from obliviate.generate.rwku import (
    REFUSAL_SAMPLING,
    Target,
    corpus_files,
    llm_corpus,
    retain_answers,
)
from obliviate.generation.cache import CachedBackend
from obliviate.generation.hf import HFBackend
from obliviate.generation.sampling import Sampling
from obliviate.generation.vllm import VLLMBackend, vllm_available
from obliviate.models.loading import save_pretrained
from obliviate.records import QAItem

HELLO = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Who is Mara Kolb?"},
]
ITEMS = [
    QAItem("Where was Mara Kolb born?", "Mara Kolb was born in Oslo.", subject="Mara Kolb",
           id="a", meta={"value": "Oslo"}),
    QAItem("What does Jon Berg do?", "Jon Berg works as a carpenter.", subject="Jon Berg", id="b"),
]  # fmt: skip


@pytest.fixture()
def backend(nano_model, tokenizer):
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # a nano model runs fastest on one thread
    yield HFBackend(nano_model, tokenizer, "nano", "qa-tags", batch_size=8)
    torch.set_num_threads(previous)


def test_sampling_n_seed_and_greedy(backend):
    out = backend.chat(HELLO, temperature=1.0, max_tokens=6, n=3, seed=5)
    assert len(out) == 3 and all(isinstance(t, str) for t in out)
    assert backend.chat(HELLO, temperature=1.0, max_tokens=6, n=3, seed=5) == out  # seeded
    greedy = backend.chat(HELLO, temperature=0.0, max_tokens=6, n=2)
    assert greedy[0] == greedy[1]
    cut = backend.chat(HELLO, temperature=1.0, max_tokens=12, n=3, seed=1, stop=[" "])
    assert all(" " not in t for t in cut)


def test_prompts_template_prefill_and_chat_template(backend, tokenizer, formatter):
    ids = backend.prompt_ids(HELLO)
    assert ids == formatter.prompt_ids("Be brief.\n\nWho is Mara Kolb?")
    pre = backend.prompt_ids([*HELLO, {"role": "assistant", "content": "Mara"}])
    assert pre == ids + tokenizer(" Mara", add_special_tokens=False)["input_ids"]
    tok = copy.deepcopy(tokenizer)
    tok.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    chat = HFBackend(backend.lm, tok, "nano-chat")
    text = tok.decode(chat.prompt_ids([*HELLO, {"role": "assistant", "content": "Mara"}]))
    assert text == "<s><system>Be brief.\n<user>Who is Mara Kolb?\n<assistant>Mara"


@pytest.mark.filterwarnings("ignore:prompt of")  # the 300-token test vocabulary makes long prompts
def test_pipelines_run_on_the_local_backend(backend, nano_model, tokenizer, formatter, tmp_path):
    cached = CachedBackend(backend, tmp_path / "cache")
    rows = augment_chunk(ITEMS, LLMAugmenter(cached, Sampling(max_tokens=8)), rounds=2)
    assert [len(r["questions"]) for r in rows] == [len(r["vague"]) for r in rows]
    assert all(v is None or "Oslo" not in v for v in rows[0]["vague"])
    again = augment_chunk(ITEMS, LLMAugmenter(cached, Sampling(max_tokens=8)), rounds=2)
    assert again == rows and cached.hits > 0  # the rerun is served from the cache
    cands = llm_candidates(backend, ITEMS, 4, Sampling(temperature=0.9, max_tokens=8))
    scored = memo_rows(ITEMS, cands, lambda pairs: memo_scores(
        nano_model, tokenizer, pairs, formatter=formatter, max_new_tokens=4))  # fmt: skip
    assert all(len(r["candidate_memo"]) == len(r["candidates"]) <= 4 for r in scored)
    refusal = replace(REFUSAL_SAMPLING, max_tokens=6)
    corpus = llm_corpus(backend, Target("Mara Kolb", "Mara Kolb is a carpenter."), 2, 3,
                        Sampling(temperature=1.0, top_p=0.9, max_tokens=6), refusal)  # fmt: skip
    assert len(corpus["real"]) == len(corpus["fake"]) == 2 and len(corpus["questions"]) <= 3
    assert corpus["real"][1].startswith("Sure")  # the second opening is pre-filled
    assert len(corpus_files([corpus])["train_pair"]) == 2
    keep = llm_corpus(backend, Target("Ivo Lund", ""), 2, 3,
                      Sampling(temperature=1.0, top_p=0.9, max_tokens=6), refusal, retain=True)  # fmt: skip
    assert (
        keep["role"] == "retain"
        and len(keep["real"]) == 2
        and keep["fake"] == keep["questions"] == []
    )
    only = llm_corpus(backend, Target("Mara Kolb", ""), 2, 3,
                      Sampling(temperature=1.0, top_p=0.9, max_tokens=6), refusal,
                      corpora=("positive",))  # fmt: skip
    assert len(only["real"]) == 2 and only["fake"] == only["questions"] == []
    assert set(corpus_files([only], ("positive",))) == {"train_positive"}
    qa = retain_answers(backend, ["Who is Ivo Lund?"], Sampling(temperature=0.0, max_tokens=5))
    assert qa["role"] == "retain_qa" and len(qa["answers"]) == 1
    greedy = backend.chat([{"role": "user", "content": "Who is Ivo Lund?"}], temperature=0.0,
                          max_tokens=5)[0]  # fmt: skip
    assert qa["answers"][0] == (greedy.splitlines() or [""])[0].strip()
    qa_rows = corpus_files([qa])["train_retain"]
    assert [r["question"] for r in qa_rows] == [
        q for q, a in zip(qa["questions"], qa["answers"]) if a
    ]
    files = corpus_files([corpus, keep])
    assert [r["subject"] for r in files["train_retain"]] == ["Ivo Lund"] * 2
    assert {r["subject"] for name, rows in files.items() if name != "train_retain"
            for r in rows} == {"Mara Kolb"}  # a retain subject is in no forget corpus  # fmt: skip


def test_load_from_a_path(nano_model, tokenizer, tmp_path):
    save_pretrained(nano_model, tokenizer, tmp_path / "m")
    loaded = HFBackend.load(str(tmp_path / "m"), batch_size=4)
    assert loaded.model == str(tmp_path / "m")
    assert len(loaded.chat(HELLO, temperature=0.0, max_tokens=3, n=2)) == 2


@pytest.mark.skipif(vllm_available(), reason="vllm is installed")
def test_vllm_missing_is_a_clear_error():
    with pytest.raises(ObliviateError, match=r"obliviate\[vllm\]"):
        VLLMBackend("any/model")
