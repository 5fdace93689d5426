"""Shared-prompt scoring: each distinct prompt runs once, the values stay those of the full pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from obliviate.eval.scoring import cache_keyword, prefix_saving, score
from obliviate.formatting import Encoded

QUESTIONS = {
    "Who is Ada?": ["A glassblower from Tarn.", "She blows glass in Tarn.", "A baker.", "A poet."],
    "Where was Ada Lovelace born, and when?": [
        "Paris, 1801.",
        "In Paris in 1801, a cold year with a very long winter.",
        "Rome.",
        "Oslo, 1799.",
    ],
    "Q": ["a much longer answer with many words in it and more", "yes", "no", "maybe"],
}


def _items(formatter) -> list[Encoded]:
    """A TOFU-shaped flattened set: per question its answer, paraphrase and perturbed answers
    (sharing the prompt), plus one item whose prompt nobody shares."""
    items = [formatter.encode_pair(q, a) for q, answers in QUESTIONS.items() for a in answers]
    return items + [formatter.encode_pair("Who else?", "Nobody at all.")]


class _TokenCounter:
    """Counts the input positions the model's embedding layer sees (padding included)."""

    def __init__(self, model: torch.nn.Module):
        self.n = 0
        self.handle = model.get_input_embeddings().register_forward_hook(self._hook)

    def _hook(self, module, args, output) -> None:
        self.n += args[0].numel()


def _compare(plain, shared) -> None:
    for a, b in zip(plain, shared):
        assert a.n == b.n
        np.testing.assert_array_equal(a.correct, b.correct)
        np.testing.assert_allclose(a.logprobs, b.logprobs, rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(a.nll_mean, b.nll_mean, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(np.exp(-a.nll_mean), np.exp(-b.nll_mean), atol=1e-6)
        np.testing.assert_allclose(a.mu, b.mu, rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(a.sigma2, b.sigma2, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("batch_size", [2, 32])
def test_shared_prompts_give_the_full_pass_values_on_fewer_tokens(nano_model, formatter,
                                                                  batch_size):  # fmt: skip
    """Per item, every statistic of the shared pass equals the plain pass's within 1e-6
    (relative; 1e-5 absolute per token), with prompts of different lengths in one batch and
    batches that split a prompt's answers; and the model sees fewer positions than the plain
    pass, within 30% of the unique-prompt + answer token count at batch 2 (at batch 32 the
    left padding of prompts of different lengths costs more, but still less than the plain pass)."""
    items = _items(formatter)
    counter = _TokenCounter(nano_model)
    plain = score(nano_model, items, formatter.pad_id, batch_size, dist_stats=True,
                  shared_prefix=False)  # fmt: skip
    plain_tokens, counter.n = counter.n, 0
    shared = score(nano_model, items, formatter.pad_id, batch_size, dist_stats=True)
    counter.handle.remove()
    _compare(plain, shared)
    real = sum(len(e.input_ids) for e in items)
    needed = real * (1 - prefix_saving(items))  # each prompt once, every answer
    assert counter.n < plain_tokens, (counter.n, plain_tokens)
    if batch_size == 2:
        assert counter.n <= 1.3 * needed, (counter.n, needed)


def test_prefix_saving_is_the_repeated_prompt_share():
    """Two items with one 4-token prompt and 2-token answers: 4 of 12 tokens are repeated."""
    labelled = [-100] * 4 + [7, 8]
    a = Encoded([1, 2, 3, 4, 7, 8], labelled)
    b = Encoded([1, 2, 3, 4, 9, 8], [-100] * 4 + [9, 8])
    assert prefix_saving([a, b]) == pytest.approx(4 / 12)
    assert prefix_saving([a, Encoded([1, 5, 3, 4, 9, 8], labelled)]) == 0.0
    # an item labelled from its first token has no prompt: the plain pass scores the set
    assert prefix_saving([a, b, Encoded([5, 9, 11], [5, 9, 11])]) == 0.0


def test_lora_model_scores_through_the_cache(nano_model, formatter):
    """A peft-wrapped model (RWKU's LoRA scope) is looked through to its cache keyword and
    scores the same values as its plain pass."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = get_peft_model(nano_model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"],
                                                  init_lora_weights=False))  # fmt: skip
    assert cache_keyword(model) in ("cache", "past_key_values")
    items = _items(formatter)
    plain = score(model, items, formatter.pad_id, 8, dist_stats=True, shared_prefix=False)
    _compare(plain, score(model, items, formatter.pad_id, 8, dist_stats=True))
