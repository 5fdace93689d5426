"""A lean decoding loop: finished sequences leave the batch (the loop behind
:func:`obliviate.generation.hf.generate`).

``model.generate`` keeps every row of a batch until the last one stops, and pays its per-step
Python overhead (logits processors, stopping criteria, input preparation) on every step; on a
2M-parameter model that overhead is most of the time. :func:`decode` is the loop itself:

1. prefill: ``model(input_ids, attention_mask, position_ids, use_cache=True,
   logits_to_keep=1)`` on the left-padded batch, position ids ``cumsum(mask) − 1`` (0 at pads)
   and the mask dropped when the batch has no padding, exactly as ``model.generate`` prepares
   them (transformers ``GenerationMixin._prepare_position_ids_for_generation``);
2. step: the next token x_t = argmax of the float32 last-position logits (greedy) or a draw from
   softmax(warped logits) (sampling: HF's own ``TemperatureLogitsWarper``,
   ``TopKLogitsWarper``, ``TopPLogitsWarper``, in HF's order);
3. rows whose token is a stop id (or that reached ``max_new_tokens``) leave: the KV cache keeps
   only the live rows (``Cache.batch_select_indices``), and so do the position ids and the mask;
   the others feed x_t at position p + 1 with the mask extended by a column of ones.

Every live row sees the same inputs as under ``model.generate`` (its cache, mask and positions
are those rows of HF's), so greedy outputs are token-identical to ``model.generate(do_sample=
False)`` up to the float reduction order of a smaller matmul (tested per item on the tiny model
and on SmolLM2-135M: ``tests/generation/test_decode.py``). Sampled outputs follow the same
distribution as HF's, but not HF's random stream (a draw per live row, not per batch row).

:func:`lean_supported` says when the loop is exact: a transformers causal LM (or a wrapper
passing keyword arguments through, as peft does) whose ``generation_config`` adds no logits
processor (repetition penalty, n-gram blocking, forced or suppressed tokens, ...) and decoding
arguments among ``do_sample``/``temperature``/``top_p``/``top_k``; otherwise
:func:`~obliviate.generation.hf.generate` calls ``model.generate`` (stop strings, beam search).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..models.batches import accepts_logits_to_keep

# generation_config fields that add a logits processor or change the search, with the value
# that does not (None never does)
_NEUTRAL: dict[str, Any] = {
    "repetition_penalty": 1.0, "encoder_repetition_penalty": 1.0, "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0, "bad_words_ids": None, "min_length": 0,
    "min_new_tokens": 0, "forced_bos_token_id": None, "forced_eos_token_id": None,
    "remove_invalid_values": False, "exponential_decay_length_penalty": None,
    "suppress_tokens": None, "begin_suppress_tokens": None, "sequence_bias": None,
    "guidance_scale": 1.0, "watermarking_config": None, "num_beams": 1, "num_beam_groups": 1,
    "penalty_alpha": None, "dola_layers": None, "constraints": None, "force_words_ids": None,
    "min_p": None, "top_h": None, "typical_p": 1.0, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0,
    "renormalize_logits": False, "low_memory": None, "prompt_lookup_num_tokens": None,
    "num_return_sequences": 1, "token_healing": False, "cache_implementation": None,
}  # fmt: skip
SAMPLING_KEYS = frozenset({"do_sample", "temperature", "top_p", "top_k"})

Picker = Callable[[torch.Tensor], torch.Tensor]


def _base(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers model under a peft wrapper (the model itself otherwise)."""
    get = getattr(model, "get_base_model", None)
    return get() if callable(get) else model


def cache_keyword(model: torch.nn.Module) -> str:
    """The forward's KV-cache argument: ``cache`` (transformers ≥ 5.2x) or ``past_key_values``."""
    params = inspect.signature(_base(model).forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def lean_supported(model: torch.nn.Module, sampling: dict[str, Any] | None = None) -> bool:
    """Whether :func:`decode` reproduces ``model.generate(**sampling)`` (module docstring)."""
    if set(sampling or {}) - SAMPLING_KEYS:
        return False
    base = _base(model)
    config = getattr(base, "generation_config", None)
    if config is None or getattr(getattr(base, "config", None), "is_encoder_decoder", False):
        return False
    if not hasattr(base, "prepare_inputs_for_generation"):  # not a GenerationMixin model
        return False
    return all(getattr(config, k, None) in (None, v) for k, v in _NEUTRAL.items())


def greedy(logits: torch.Tensor) -> torch.Tensor:
    """x = argmax_v logits[:, v] (ties: the lowest id, as ``torch.argmax`` and HF)."""
    return torch.argmax(logits, dim=-1)


def sampler(temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0) -> Picker:
    """x ~ softmax(warp(logits)) with HF's warpers in ``model.generate``'s order: temperature
    (unless 1), top-k (unless 0), top-p (unless 1) (transformers ``_get_logits_processor``)."""
    from transformers.generation.logits_process import (
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    warpers: list[Any] = []
    if temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(temperature))
    if top_k:
        warpers.append(TopKLogitsWarper(top_k=top_k))
    if top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p=top_p))

    def pick(logits: torch.Tensor) -> torch.Tensor:
        for warp in warpers:
            logits = warp(None, logits)
        return torch.multinomial(torch.softmax(logits, dim=-1), num_samples=1).squeeze(1)

    return pick


def picker(sampling: dict[str, Any] | None) -> Picker:
    """The token choice of ``model.generate``-style arguments: greedy unless ``do_sample``."""
    s = sampling or {}
    if not s.get("do_sample"):
        return greedy
    return sampler(float(s.get("temperature", 1.0)), float(s.get("top_p", 1.0)),
                   int(s.get("top_k", 0) or 0))  # fmt: skip


def decode(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    max_new_tokens: int,
    stop_ids: Sequence[int],
    pick: Picker = greedy,
    on_step: Callable[[int, int], None] | None = None,
) -> list[list[int]]:
    """The new token ids of each left-padded row (a stop id, when reached, is the last one).

    ``on_step(live, ended_early)`` after each step: the rows that made a token, and the token
    budget given back by rows that stopped before ``max_new_tokens`` (for a progress bar).
    """
    device = input_ids.device
    n = input_ids.shape[0]
    out: list[list[int]] = [[] for _ in range(n)]
    stops = torch.tensor(sorted(set(stop_ids)), dtype=torch.long, device=device)
    positions = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
    mask: torch.Tensor | None = None if bool((attention_mask == 1).all()) else attention_mask
    kwargs: dict[str, Any] = {"use_cache": True}
    if accepts_logits_to_keep(model):
        kwargs["logits_to_keep"] = 1
    key = cache_keyword(model)
    rows = list(range(n))  # batch row -> input row
    ids = input_ids
    for step in range(max_new_tokens):
        output = model(input_ids=ids, attention_mask=mask, position_ids=positions, **kwargs)
        cache = getattr(output, "cache", None)
        kwargs[key] = output.past_key_values if cache is None else cache
        nxt = pick(output.logits[:, -1].to(dtype=torch.float32))
        del output
        for row, token in zip(rows, nxt.tolist()):
            out[row].append(token)
        done = torch.isin(nxt, stops)
        last = step == max_new_tokens - 1
        if on_step is not None:
            on_step(len(rows), 0 if last else int(done.sum()) * (max_new_tokens - step - 1))
        if last or bool(done.all()):
            break
        if bool(done.any()):
            keep = (~done).nonzero().squeeze(1)
            kwargs[key].batch_select_indices(keep)
            rows = [rows[i] for i in keep.tolist()]
            nxt, positions = nxt[keep], positions[keep]
            mask = None if mask is None else mask[keep]
        ids = nxt[:, None]
        positions = positions[:, -1:] + 1
        if mask is not None:
            mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=-1)
    return out
