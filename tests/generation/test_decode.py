"""The lean decoding loop (:mod:`obliviate.generation.decode`) against ``model.generate``: greedy
token ids equal per item (an unpadded ``model.generate(do_sample=False)`` per prompt) and per
batch (today's padded batch call) on the tiny preset, with prompts of very different lengths,
stop ids hit mid-batch and ``max_new_tokens`` caps; finished rows leave the batch; sampling
settings reach the token choice; configurations the loop cannot reproduce go to
``model.generate``."""

from __future__ import annotations

import random

import pytest
import torch

from obliviate.formatting import collate_left
from obliviate.generation.decode import decode, lean_supported, picker, sampler
from obliviate.generation.hf import generate, stop_token_ids
from obliviate.models.tiny import build_tiny_model


@pytest.fixture(scope="module")
def tiny(tokenizer):
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield build_tiny_model(tokenizer, "tiny", seed=0).eval()
    torch.set_num_threads(previous)


def _prompts(tokenizer, lengths=(1, 2, 5, 9, 17, 33, 64, 3, 40, 12)) -> list[list[int]]:
    rng = random.Random(0)
    low = len(tokenizer.all_special_ids)  # ordinary tokens only
    return [[tokenizer.bos_token_id] + [rng.randrange(low, len(tokenizer)) for _ in range(n - 1)]
            for n in lengths]  # fmt: skip


def _cut(ids: list[int], stops: set[int], pad: int) -> list[int]:
    """``model.generate`` output up to and with the first stop id, pads dropped."""
    for j, t in enumerate(ids):
        if t in stops:
            return ids[: j + 1]
    return [t for t in ids if t != pad]


def _direct(model, tok, prompt: list[int], max_new: int, stops: list[int]) -> list[int]:
    out = model.generate(torch.tensor([prompt]), max_new_tokens=max_new, do_sample=False,
                         eos_token_id=stops, pad_token_id=tok.pad_token_id)  # fmt: skip
    return _cut(out[0, len(prompt) :].tolist(), set(stops), tok.pad_token_id)


def _stops_mid_batch(model, tok, prompts, max_new: int) -> list[int]:
    """EOS plus tokens that the prompts' greedy continuations reach at different steps."""
    eos = stop_token_ids(model, tok)
    free = [_direct(model, tok, p, max_new, eos) for p in prompts]
    picks = {ids[k] for k, ids in zip((2, 5, 9), free[1::3]) if len(ids) > k}
    return [*eos, *sorted(picks)]


def test_greedy_equals_model_generate_per_item_and_per_batch(tiny, tokenizer) -> None:
    prompts, max_new = _prompts(tokenizer), 24
    stops = _stops_mid_batch(tiny, tokenizer, prompts, max_new)
    direct = [_direct(tiny, tokenizer, p, max_new, stops) for p in prompts]
    lengths = [len(d) for d in direct]
    assert min(lengths) < max_new and max_new in lengths  # some stop mid-batch, some hit the cap
    batch = collate_left(prompts, tokenizer.pad_token_id)
    with torch.no_grad():
        lean = decode(tiny, batch["input_ids"], batch["attention_mask"], max_new, stops)
        hf = tiny.generate(**batch, max_new_tokens=max_new, do_sample=False, eos_token_id=stops,
                           pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    width = batch["input_ids"].shape[1]
    per_batch = [_cut(row[width:], set(stops), tokenizer.pad_token_id) for row in hf.tolist()]
    assert lean == direct
    assert lean == per_batch
    for cap in (1, 7):  # a cap below every stop: all rows run to it
        with torch.no_grad():
            short = decode(tiny, batch["input_ids"], batch["attention_mask"], cap, stops)
        assert short == [d[:cap] for d in direct]


def test_generate_text_equals_model_generate_at_every_batch_size(tiny, tokenizer) -> None:
    prompts = _prompts(tokenizer)
    stops = _stops_mid_batch(tiny, tokenizer, prompts, 16)
    extra = stops[len(stop_token_ids(tiny, tokenizer)) :]
    want = [tokenizer.decode(_direct(tiny, tokenizer, p, 16, stops), skip_special_tokens=True)
            .strip() for p in prompts]  # fmt: skip
    for bs in (1, 3, 32):
        assert generate(tiny, tokenizer, prompts, bs, 16, stop_ids=extra) == want


def test_finished_rows_leave_the_batch(tiny, tokenizer) -> None:
    prompts = _prompts(tokenizer)
    stops = _stops_mid_batch(tiny, tokenizer, prompts, 24)
    sizes: list[int] = []
    hook = tiny.register_forward_pre_hook(
        lambda _m, _a, kw: sizes.append(kw["input_ids"].shape[0]), with_kwargs=True
    )
    batch = collate_left(prompts, tokenizer.pad_token_id)
    try:
        with torch.no_grad():
            out = decode(tiny, batch["input_ids"], batch["attention_mask"], 24, stops)
    finally:
        hook.remove()
    assert sizes[0] == len(prompts) and sizes == sorted(sizes, reverse=True)
    assert sizes[-1] < len(prompts)  # rows that stopped were not decoded further
    assert sum(sizes) == sum(len(o) for o in out)  # one forward row per generated token


def test_sampling_settings_reach_the_token_choice(tiny, tokenizer) -> None:
    prompts = _prompts(tokenizer)[:4]
    greedy = generate(tiny, tokenizer, prompts, 4, 12)
    args = {"do_sample": True, "temperature": 1.5, "top_p": 1.0, "top_k": 0}
    torch.manual_seed(1)
    a = generate(tiny, tokenizer, prompts, 4, 12, sampling=args)
    torch.manual_seed(1)
    assert generate(tiny, tokenizer, prompts, 4, 12, sampling=args) == a  # seeded
    assert a != greedy
    for narrow in ({"top_k": 1}, {"top_p": 1e-6}):  # one token left: the greedy one
        torch.manual_seed(2)
        assert generate(tiny, tokenizer, prompts, 4, 12, sampling={**args, **narrow}) == greedy
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    torch.manual_seed(0)
    draws = torch.stack([sampler(top_k=2)(logits) for _ in range(200)]).flatten()
    assert set(draws.tolist()) == {1, 3}  # top-k keeps the two largest logits
    assert picker(None)(logits).tolist() == [1] == picker({"do_sample": False})(logits).tolist()


def test_processor_configs_fall_back_to_model_generate(tokenizer) -> None:
    model = build_tiny_model(tokenizer, "nano", seed=1).eval()
    assert lean_supported(model) and lean_supported(model, {"do_sample": True, "top_p": 0.9})
    assert not lean_supported(model, {"stop_strings": ["x"], "tokenizer": tokenizer})
    prompts = _prompts(tokenizer)[:5]
    model.generation_config.repetition_penalty = 1.8
    assert not lean_supported(model)
    eos = stop_token_ids(model, tokenizer)
    want = [tokenizer.decode(_direct(model, tokenizer, p, 10, eos), skip_special_tokens=True)
            .strip() for p in prompts]  # fmt: skip
    assert generate(model, tokenizer, prompts, 5, 10) == want
    model.generation_config.repetition_penalty = 1.0
    assert lean_supported(model)
    assert generate(model, tokenizer, prompts, 5, 10) != want  # the penalty mattered
