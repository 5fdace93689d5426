"""A local transformers model as a generation backend (any hub id or path, or a run's model).

:func:`generate` is the one HF decoding loop (evaluation, data generation, AltPO): prompts in
length-sorted batches (stable sort), left padding, KV cache, stop on :func:`stop_token_ids`
(the model's ``generation_config`` stop list, the tokenizer's EOS, the chat template's turn end)
and the given stop ids, only the new tokens decoded (special tokens skipped, stripped); greedy
unless sampling arguments are given. Decoding is :func:`.decode.decode` (finished sequences
leave the batch; greedy outputs token-identical to ``model.generate(do_sample=False)``;
sampling with temperature/top_p/top_k through the same loop, HF's warpers) wherever
:func:`.decode.lean_supported` says it is exact; otherwise (stop strings, a generation config
with logits processors, extra ``model.generate`` arguments) ``model.generate`` per batch. A
progress bar counts generated tokens against the budget (prompts x ``max_new_tokens``, given back
as rows stop early). Errors propagate: a failed generation is never turned into an empty string
that would look like forgetting (SPEC 6.0 "fixed").

:class:`HFBackend` maps :class:`~.sampling.Sampling` onto it: ``temperature == 0`` is greedy,
else ``do_sample`` with temperature/top_p/top_k; ``n`` completions = each prompt repeated ``n``
times; ``seed`` (unless ``None``) seeds torch's RNG before the batch, so a request is
reproducible for a fixed batch composition; stop strings end generation early
(``stop_strings``, through ``model.generate``) and are cut from the text. Chat prompts:
:mod:`.prompts`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from ..formatting import collate_left, turn_end_ids
from ..models.batches import eval_mode
from ..models.loading import load_pretrained
from .backend import LocalBackend
from .decode import decode, lean_supported, picker
from .sampling import Sampling


def stop_token_ids(model: torch.nn.Module, tokenizer: Any, extra: Sequence[int] = ()) -> list[int]:
    """Every id that ends a generation: ``generation_config.eos_token_id`` (an int or a list: the
    model's own stop list, e.g. Llama-3's ``<|end_of_text|>``, ``<|eom_id|>``, ``<|eot_id|>``),
    the tokenizer's EOS, the special tokens of the chat template's turn end (Phi-3's
    ``<|end|>``, Gemma-2's ``<end_of_turn>``), then ``extra``; in that order, without repeats."""
    config = getattr(model, "generation_config", None)
    eos = getattr(config, "eos_token_id", None)
    ids = list(eos) if isinstance(eos, list | tuple) else [eos]
    ids += [tokenizer.eos_token_id, *turn_end_ids(tokenizer), *extra]
    return list(dict.fromkeys(int(i) for i in ids if i is not None))


def generate(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[list[int]],
    batch_size: int = 32,
    max_new_tokens: int = 32,
    device: torch.device | str = "cpu",
    stop_ids: Sequence[int] | None = None,
    sampling: dict[str, Any] | None = None,
) -> list[str]:
    """Continuations of token-id prompts, in input order (see the module docstring).

    ``sampling``: ``model.generate`` arguments replacing greedy decoding (e.g.
    ``{"do_sample": True, "temperature": 0.7, "top_p": 0.9}``).
    """
    eos = stop_token_ids(model, tokenizer, stop_ids or ())
    lean = lean_supported(model, sampling)
    pick = picker(sampling) if lean else None
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[str] = [""] * len(prompts)
    env = os.environ
    quiet = not prompts or env.get("LOCAL_RANK", "0") != "0" or env.get("TQDM_DISABLE") == "1"
    bar = tqdm(total=len(prompts) * max_new_tokens, desc="generate", unit="tok", leave=False,
               disable=quiet)  # fmt: skip

    def step(live: int, ended_early: int) -> None:
        if ended_early:
            bar.total -= ended_early
            bar.refresh()
        bar.update(live)

    try:
        with eval_mode(model):
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                batch = collate_left([prompts[i] for i in idx], tokenizer.pad_token_id)
                ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
                if pick is not None:
                    new = decode(model, ids, mask, max_new_tokens, eos, pick, step)
                else:
                    new = model.generate(
                        input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                        eos_token_id=eos, pad_token_id=tokenizer.pad_token_id,
                        **{"do_sample": False, **(sampling or {})},
                    )[:, ids.shape[1] :].tolist()  # fmt: skip
                    bar.update(len(idx) * max_new_tokens)
                for i, text in zip(idx, tokenizer.batch_decode(new, skip_special_tokens=True)):
                    out[i] = text.strip()
    finally:
        bar.close()
    return out


def hf_sampling_kwargs(sampling: Sampling, tokenizer: Any) -> dict[str, Any]:
    """``model.generate`` arguments for ``sampling`` beyond :func:`generate`'s greedy default."""
    kwargs: dict[str, Any] = {}
    if sampling.temperature > 0:
        kwargs = {"do_sample": True, "temperature": sampling.temperature,
                  "top_p": sampling.top_p, "top_k": sampling.top_k}  # fmt: skip
    if sampling.stop:
        kwargs.update(stop_strings=list(sampling.stop), tokenizer=tokenizer)
    return kwargs


class HFBackend(LocalBackend):
    """Completions from a loaded causal LM and its tokenizer (``name`` identifies it in caches)."""

    kind = "hf"

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        name: str = "",
        template: str = "auto",
        batch_size: int = 16,
        max_length: int | None = None,
        device: torch.device | str = "cpu",
    ):
        if max_length is None:  # room for the completion within the position limit
            positions = getattr(getattr(model, "config", None), "max_position_embeddings", 4096)
            max_length = min(2048, positions // 2)
        self.lm = model
        self.tok = tokenizer
        self.model = name
        self.template = template
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device

    @classmethod
    def load(
        cls, name_or_path: str, dtype: str = "float32", trust_remote_code: bool = False, **kw: Any
    ) -> HFBackend:
        model, tok = load_pretrained(name_or_path, dtype, trust_remote_code)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        return cls(model.to(device), tok, str(name_or_path), device=device, **kw)

    def _generate(self, prompts: list[list[int]], sampling: Sampling) -> list[list[str]]:
        n = sampling.n
        repeated = [p for p in prompts for _ in range(n)]
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        texts = generate(
            self.lm, self.tok, repeated, self.batch_size, sampling.max_tokens, self.device,
            list(sampling.stop_ids), hf_sampling_kwargs(sampling, self.tok),
        )  # fmt: skip
        return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]
