"""MEOW: candidate parsing, top-k selection on fixed scores, MEMO by hand and batched."""

from __future__ import annotations

import random

import pytest
import torch

from obliviate.errors import ObliviateError
from obliviate.eval.memo import memo_scores, memo_splits, rouge1_precision
from obliviate.generate.meow import llm_candidates, meow_selection, parse_candidates, select_top_k
from obliviate.generation.http import OpenAIBackend
from obliviate.generation.sampling import Sampling
from obliviate.records import QAItem

SCORES = [0.5, 0.9, 0.5, 0.9, 0.1]


def test_top_k_largest_smallest_random_on_fixed_scores():
    rng = random.Random(42)
    # ties (0.9, 0.9) and (0.5, 0.5) keep both indices, lower index first
    assert select_top_k(SCORES, 3, "largest", rng) == [1, 3, 0]
    assert select_top_k(SCORES, 3, "smallest", rng) == [4, 0, 2]
    assert select_top_k(SCORES, 9, "largest", rng) == [1, 3, 0, 2, 4]  # fewer than k: all
    picked = select_top_k(SCORES, 3, "random", random.Random(42))
    assert picked == random.Random(42).sample(range(5), 3)  # seeded
    assert len(set(picked)) == 3
    with pytest.raises(ObliviateError, match="no MEMO score"):
        select_top_k([0.2, None, 0.3], 2, "largest", rng)
    with pytest.raises(ObliviateError, match="ranking"):
        select_top_k(SCORES, 2, "median", rng)


def test_selection_over_rows():
    rows = [
        {"question": "Q0", "candidates": ["a", "b", "c", "d", "e"], "candidate_memo": SCORES},
        {"question": "Q1", "candidates": ["x", "y"], "candidate_memo": [0.3, 0.3]},
    ]
    assert meow_selection(rows, k=3, ranking="largest") == [
        ("Q0", "b"), ("Q0", "d"), ("Q0", "a"), ("Q1", "x"), ("Q1", "y"),
    ]  # fmt: skip
    assert meow_selection(rows, k=1, ranking="smallest") == [("Q0", "e"), ("Q1", "x")]
    rows[1]["candidate_memo"] = [0.3]
    with pytest.raises(ObliviateError, match="2 candidates but 1 MEMO scores"):
        meow_selection(rows)


def test_parse_candidates_drops_chatter_numbering_and_the_original():
    reply = 'Sure! Here are 4 answers:\n1. In Vesby.\n2) "In Ostby."\n- In Oslo.\n\n* In Nordby.\nIn Lumen.'
    assert parse_candidates(reply, "In Oslo.", 4) == [
        "In Vesby.",
        "In Ostby.",
        "In Nordby.",
        "In Lumen.",
    ]
    assert parse_candidates("Answer 1: A\nAnswer 2: A\nB", "C", 4) == ["A", "B"]


def test_llm_candidates_through_http(llm_server):
    url, _ = llm_server
    items = [QAItem("Where was Mara Kolb born?", "In Oslo.")]
    got = llm_candidates(OpenAIBackend(url, "fake"), items, 4, Sampling(temperature=0.9))
    assert got == [["In Vesby.", "In Ostby.", "In Nordby.", "In Lumen."]]


def test_rouge1_precision_and_splits_by_hand():
    # output unigrams (the, cat, ate): "the" and "cat" are in the label -> 2/3
    assert rouge1_precision("the cat sat on the mat", "the cat ate") == pytest.approx(2 / 3)
    assert rouge1_precision("anything", "") == 0.0
    # stride 5 over a 12-character answer: j = 1, 6, 11
    assert memo_splits("Q?", "abcdefghijkl", 5) == [
        ("a", "bcdefghijkl"), ("abcdef", "ghijkl"), ("abcdefghijk", "l"),
    ]  # fmt: skip
    assert memo_splits("abcdefg", "A", 3, mode="prefix") == [
        ("a", "bcdefg A"), ("abcd", "efg A"),
    ]  # fmt: skip
    assert memo_splits("Q?", "x", 5) == []


@torch.no_grad()
def test_memo_batched_equals_per_prompt(nano_model, tokenizer, formatter):
    """MEMO from the batched pass equals the per-prompt computation of MEOW's loop."""
    pairs = [("Where was Mara Kolb born?", "Mara Kolb was born in Oslo."),
             ("What does Jon Berg do?", "Jon Berg works as a carpenter."), ("Q?", "x")]  # fmt: skip
    for prompt in ("raw", "template"):
        batched = memo_scores(nano_model, tokenizer, pairs, formatter=formatter, prompt=prompt,
                              max_new_tokens=6, batch_size=16)  # fmt: skip
        expected = []
        for q, a in pairs:
            values = []
            for part, label in memo_splits(q, a, 5):
                if prompt == "raw":
                    ids = [
                        tokenizer.bos_token_id,
                        *tokenizer(q + " " + part, add_special_tokens=False)["input_ids"],
                    ]
                else:
                    ids = (
                        formatter.prompt_ids(q)
                        + tokenizer(" " + part, add_special_tokens=False)["input_ids"]
                    )
                out = nano_model.generate(torch.tensor([ids]), max_new_tokens=6, do_sample=False,
                                          eos_token_id=tokenizer.eos_token_id,
                                          pad_token_id=tokenizer.pad_token_id)  # fmt: skip
                text = tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True).strip()
                values.append(rouge1_precision(label, text))
            expected.append(sum(values) / len(values) if values else 0.0)
        assert batched == pytest.approx(expected, abs=1e-9)
        assert batched[2] == 0.0  # a one-character answer has no prompt
