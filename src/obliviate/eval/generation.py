"""Batched greedy generation with the KV cache (left padding, SPEC 6.0 "fixed")."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..formatting import collate_left


@torch.no_grad()
def generate(
    model: torch.nn.Module,
    tokenizer,
    prompts: Sequence[list[int]],
    batch_size: int = 32,
    max_new_tokens: int = 32,
    device: torch.device | str = "cpu",
    stop_ids: Sequence[int] | None = None,
) -> list[str]:
    """Greedy continuations of token-id prompts; only the new tokens are decoded.

    Stops on EOS (and ``stop_ids``, e.g. a chat model's end-of-turn id). Errors propagate: a
    failed generation is never turned into an empty string that would look like forgetting.
    """
    was_training = model.training
    model.eval()
    eos = [tokenizer.eos_token_id, *(stop_ids or [])]
    eos = [e for e in eos if e is not None]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[str] = [""] * len(prompts)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = collate_left([prompts[i] for i in idx], tokenizer.pad_token_id)
        batch = {k: v.to(device) for k, v in batch.items()}
        gen = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=tokenizer.pad_token_id,
        )
        new = gen[:, batch["input_ids"].shape[1] :]
        texts = tokenizer.batch_decode(new, skip_special_tokens=True)
        for i, text in zip(idx, texts):
            out[i] = text.strip()
    if was_training:
        model.train()
    return out
