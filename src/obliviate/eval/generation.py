"""Evaluation's generation backend, chosen by ``eval.backend`` (SPEC 6.0 "fixed").

Every backend is a :class:`obliviate.generation.Backend`: called as ``gen(prompts,
max_new_tokens, stop_ids=()) -> list[str]`` it returns greedy continuations of token-id prompts
(left padding, KV cache, only the new tokens decoded, stop on EOS and ``stop_ids``). ``hf`` runs
the in-memory model (:func:`obliviate.generation.hf.generate`), ``vllm`` a vLLM engine on the
saved model directory (``seed=0``, temperature 0).
"""

from __future__ import annotations

import torch

from ..errors import ObliviateError
from ..generation.backend import Backend
from ..generation.hf import HFBackend, generate
from ..generation.vllm import VLLMBackend

GENERATION_BACKENDS = ("hf", "vllm")

__all__ = ["GENERATION_BACKENDS", "HFGenerator", "generate", "make_generator"]


class HFGenerator(HFBackend):
    """The default backend: the in-memory model, greedy (``HFGenerator(model, tok, bs, device)``)."""

    def __init__(self, model: torch.nn.Module, tokenizer, batch_size: int = 32, device="cpu"):
        super().__init__(model, tokenizer, batch_size=batch_size, device=device)


def make_generator(
    backend: str,
    model: torch.nn.Module,
    tokenizer,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    model_path: str | None = None,
    dtype: str = "auto",
) -> Backend:
    """The generation backend named by ``eval.backend`` (``hf`` or ``vllm``)."""
    if backend == "hf":
        return HFGenerator(model, tokenizer, batch_size, device)
    if backend == "vllm":
        if model_path is None:
            raise ObliviateError("eval.backend=vllm needs the model saved on disk (a model path)")
        return VLLMBackend(model_path, dtype, tokenizer, setting="eval.backend", seed=0)
    raise ObliviateError(
        f"eval.backend={backend!r} is unknown; accepted: {', '.join(GENERATION_BACKENDS)}"
    )
