"""MEOW MEMO under ``eval.meow_prompt=raw`` (issue 19 item 9): ``eval.protocol=paper`` scores
MEOW's own output text, ``<s>`` / ``</s>`` included; ``fixed`` scores the new tokens only.

Golden values: a fixture generator outside the repository transcribes MEOW ``memo/memo.py``
(Carol-gutianle/MEOW @ a2ba15c8f06dede397395720183638ccb4bf1cd6; ``MEMO.split`` suffix mode,
sliding 5; ``cal_rouge``: ``generate``, ``tokenizer.decode(generate_ids.sequences[0])
.replace(prompt, '')``, ``RougeScorer(...).score(answer, output)['rouge1'].precision``;
``memo_rouger`` mean) and runs it on the stub model below (it continues each prompt with the
label's tokens, then EOS: a model that has memorised the answer), prompt ids = BOS + the
string's tokens (Llama-2's ``tokenizer(prompt)``). MEOW's outputs read e.g. ``'<s>ara Kolb was
born in Oslo.</s>'``; ROUGE counts "s" twice.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from obliviate.eval.memo import memo_scores

PAIRS = [("Where was Mara Kolb born?", "Mara Kolb was born in Oslo."),
         ("What is the capital of Norland?", "Vesby")]  # fmt: skip
MEOW_MEMO = [0.5107142857142858, 0.3333333333333333]


class MemorisedStub(torch.nn.Module):
    """Continues each prompt (BOS + question + " " + answer prefix) with the rest of the answer."""

    def __init__(self, tok):
        super().__init__()
        self.tok = tok
        self.generation_config = SimpleNamespace(eos_token_id=tok.eos_token_id)
        self.rest = {q + " " + a[:j]: a[j:] for q, a in PAIRS for j in range(1, len(a), 5)}

    def generate(self, input_ids, attention_mask=None, **kw):
        rows = []
        for row, mask in zip(input_ids, attention_mask):
            ids = row[mask.bool()].tolist()
            rest = self.rest[self.tok.decode(ids[1:])]
            cont = self.tok(rest, add_special_tokens=False)["input_ids"] + [self.tok.eos_token_id]
            rows.append(row.tolist() + cont)
        width = max(map(len, rows))
        return torch.tensor([r + [self.tok.pad_token_id] * (width - len(r)) for r in rows])


@pytest.mark.parametrize("protocol", ["paper", "fixed"])
def test_raw_memo_reproduces_meows_leak(tokenizer, protocol: str) -> None:
    model = MemorisedStub(tokenizer)
    got = memo_scores(model, tokenizer, PAIRS, prompt="raw", max_new_tokens=200, protocol=protocol)
    if protocol == "paper":
        assert got == pytest.approx(MEOW_MEMO, abs=1e-12)
    else:  # the memorised answer scored without the leaked "<s>" / "</s>"
        assert all(g > m for g, m in zip(got, MEOW_MEMO))
