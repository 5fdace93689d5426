"""ReLearn's evaluation protocol under ``eval.protocol=paper`` (issue 19 item 3): sampled
generation settings, the refill-empty loop, the 200 seeded TOFU items, the PPL tokenisation.

References (zjunlp/unlearn @ 0800fd24f071a47958295fb1804906365567695c): ``evals/generate.py``
``eval`` lines 37-70 (vLLM ``SamplingParams(temperature=0.7, top_p=0.9, top_k=5,
max_tokens=128)``, ``max_iterations = 3`` passes over the still-empty answers) and
``evals/evaluate.py`` lines 405-417 (``random.seed(42)``; ``random.sample(forgetdata, min(200,
len))`` then the retain file from the same stream; golden indices from a fixture generator that
runs those lines on 400 forget and 3,600 retain rows) and ``compute_ppl`` lines 162-179.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from obliviate.eval import relearn_protocol as rp
from obliviate.eval.settings import EvalConfig
from obliviate.eval.suites import rows as rows_mod
from obliviate.eval.suites.base import EvalContext
from obliviate.formatting import Formatter
from obliviate.models.tiny import build_tiny_model
from obliviate.records import QAItem

# evaluate.py's draws: first ten indices and the sum of all 200
FORGET_FIRST, FORGET_SUM = [327, 57, 12, 379, 140, 125, 114, 71, 377, 52], 39053
RETAIN_FIRST, RETAIN_SUM = [2208, 3093, 2989, 2825, 823, 2920, 1276, 1634, 2751, 2661], 336670


def test_tofu_sample_is_relearns() -> None:
    f = rp.relearn_indices(400, True)
    r = rp.relearn_indices(3600, False, n_forget=400)
    assert (f[:10], sum(f), len(f)) == (FORGET_FIRST, FORGET_SUM, 200)
    assert (r[:10], sum(r), len(r)) == (RETAIN_FIRST, RETAIN_SUM, 200)
    assert rp.relearn_indices(150, True)[:5] == [28, 6, 70, 62, 57]  # min(200, n)


def test_regenerate_empty_three_passes() -> None:
    calls: list[list[str]] = []
    script = {"a": ["x"], "b": ["", "", "y"], "c": ["", "", "", "never"]}

    def gen(prompts: list[str]) -> list[str]:
        calls.append(list(prompts))
        return [script[p][len([c for c in calls if p in c]) - 1] for p in prompts]

    assert rp.regenerate_empty(gen, ["a", "b", "c"]) == ["x", "y", ""]
    assert calls == [["a", "b", "c"], ["b", "c"], ["b", "c"]]  # max_iterations = 3


def test_sampling_settings_passed(monkeypatch: pytest.MonkeyPatch, tokenizer, formatter) -> None:
    seen: dict = {}

    def fake_generate(model, tok, prompts, bs, max_new_tokens, device, stop_ids, sampling=None):
        seen.update(max_new_tokens=max_new_tokens, sampling=sampling)
        return ["ok"] * len(prompts)

    monkeypatch.setattr("obliviate.generation.hf.generate", fake_generate)
    ctx = EvalContext(None, tokenizer, formatter)  # type: ignore[arg-type]
    assert rp.relearn_generations(ctx, [[1, 2]]) == ["ok"]
    assert seen == {"max_new_tokens": 128,
                    "sampling": {"do_sample": True, "temperature": 0.7, "top_p": 0.9, "top_k": 5}}  # fmt: skip


def test_paper_scores_200_sampled_tofu_items(monkeypatch: pytest.MonkeyPatch, formatter) -> None:
    monkeypatch.setattr(rows_mod, "relearn_generations", lambda ctx, prompts: ["g"] * len(prompts))
    ctx = EvalContext(None, formatter.tok, formatter, config=EvalConfig())  # type: ignore[arg-type]
    forget = [QAItem("q", "a", id=f"forget10/{i}") for i in range(400)]
    retain = [QAItem("q", "a", id=f"retain90/{i}") for i in range(3600)]
    for records, forget_like, first in (
        (forget, True, FORGET_FIRST),
        (retain, False, RETAIN_FIRST),
    ):
        rows = [{"id": r.id} for r in records]
        sub, sub_rows, gens = rows_mod.relearn_items(records, ctx, rows, forget_like)
        assert [int(r.id.split("/")[1]) for r in sub[:10]] == first and len(sub) == 200
        assert sum("relearn_generation" in row for row in rows) == 200
    kud = [QAItem("q", "a", id=f"kud-{i}") for i in range(300)]  # not TOFU: every item
    assert len(rows_mod.relearn_items(kud, ctx, [{} for _ in kud], True)[0]) == 300


def test_paper_ppl_tokenises_query_plus_response(tokenizer) -> None:
    """compute_ppl: tokenizer(query + response), the first len(tokenizer(query)) labels masked."""
    fmt = Formatter(tokenizer, "qa-tags", 64)
    model = build_tiny_model(tokenizer, "nano", seed=0)
    q, r = "Where was Mara Kolb born?", " in Oslo."
    ctx = EvalContext(model, tokenizer, fmt, config=EvalConfig(protocol="paper"), role="target")
    (ppl,) = rows_mod.scorer_perplexities(ctx, [q], [r])
    query = fmt.prompt_text(q)
    qids, ids = tokenizer(query)["input_ids"], tokenizer(query + r)["input_ids"]
    labels = torch.tensor([-100] * len(qids) + ids[len(qids) :])
    with torch.no_grad():
        loss = model(torch.tensor([ids]), labels=labels.unsqueeze(0)).loss.item()
    assert ppl == pytest.approx(float(np.exp(loss)), rel=1e-5)
