"""A local transformers model as a generation backend (any hub id or path, or a run's model).

:func:`generate` is the one HF decoding loop (evaluation, data generation, AltPO): prompts in
length-sorted batches, left padding, KV cache (``model.generate``), stop on :func:`stop_token_ids`
(the model's ``generation_config`` stop list, the tokenizer's EOS, the chat template's turn end)
and the given stop ids,
only the new tokens decoded (special tokens skipped, stripped); greedy unless sampling arguments
are given. Errors propagate: a failed generation is never turned into an empty string that
would look like forgetting (SPEC 6.0 "fixed").

:class:`HFBackend` maps :class:`~.sampling.Sampling` onto it: ``temperature == 0`` is greedy,
else ``do_sample`` with temperature/top_p/top_k; ``n`` completions = each prompt repeated ``n``
times; ``seed`` (unless ``None``) seeds torch's RNG before the batch, so a request is
reproducible for a fixed batch composition; stop strings end generation early
(``stop_strings``) and are cut from the text. Chat prompts: :mod:`.prompts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..formatting import collate_left, turn_end_ids
from ..models.batches import batches, eval_mode
from ..models.loading import load_pretrained
from .backend import LocalBackend
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

    ``sampling``: extra ``model.generate`` arguments replacing greedy decoding (e.g.
    ``{"do_sample": True, "temperature": 0.7, "top_p": 0.9}``).
    """
    eos = stop_token_ids(model, tokenizer, stop_ids or ())
    out: list[str] = [""] * len(prompts)
    collate = lambda chunk: collate_left(chunk, tokenizer.pad_token_id)  # noqa: E731
    with eval_mode(model):
        for idx, batch in batches(prompts, batch_size, collate, device):
            gen = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                eos_token_id=eos,
                pad_token_id=tokenizer.pad_token_id,
                **{"do_sample": False, **(sampling or {})},
            )
            texts = tokenizer.batch_decode(
                gen[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
            )
            for i, text in zip(idx, texts):
                out[i] = text.strip()
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
