"""Batched greedy generation with the KV cache (left padding, SPEC 6.0 "fixed")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..errors import ObliviateError
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
    sampling: dict[str, Any] | None = None,
) -> list[str]:
    """Greedy continuations of token-id prompts; only the new tokens are decoded.

    Stops on EOS (and ``stop_ids``, e.g. a chat model's end-of-turn id). Errors propagate: a
    failed generation is never turned into an empty string that would look like forgetting.
    ``sampling``: extra ``model.generate`` arguments replacing greedy decoding (e.g.
    ``{"do_sample": True, "temperature": 0.7, "top_p": 0.9}``; used by the data-generation
    backends, ``obliviate.generate.hf``).
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
            eos_token_id=eos,
            pad_token_id=tokenizer.pad_token_id,
            **{"do_sample": False, **(sampling or {})},
        )
        new = gen[:, batch["input_ids"].shape[1] :]
        texts = tokenizer.batch_decode(new, skip_special_tokens=True)
        for i, text in zip(idx, texts):
            out[i] = text.strip()
    if was_training:
        model.train()
    return out


# ---- backends: one interface, chosen by ``eval.backend`` ------------------------------------
GENERATION_BACKENDS = ("hf", "vllm")


class HFGenerator:
    """Default backend: :func:`generate` on the in-memory model (batched, KV cache)."""

    def __init__(self, model: torch.nn.Module, tokenizer, batch_size: int = 32, device="cpu"):
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.device = batch_size, device

    def __call__(
        self, prompts: Sequence[list[int]], max_new_tokens: int, stop_ids: Sequence[int] = ()
    ) -> list[str]:
        return generate(
            self.model, self.tokenizer, prompts, self.batch_size, max_new_tokens, self.device,
            list(stop_ids),
        )  # fmt: skip


class VLLMGenerator:
    """Greedy generation with vLLM (optional extra ``vllm``) from a saved model directory.

    Same contract as :class:`HFGenerator`: token-id prompts in, only the new tokens decoded
    (special tokens skipped, stripped), stop on EOS and ``stop_ids``; temperature 0.
    """

    def __init__(self, model_path: str, tokenizer, dtype: str = "auto", seed: int = 0):
        try:
            from vllm import LLM
        except ImportError:
            raise ObliviateError(
                "eval.backend=vllm needs the vllm package (pip install 'obliviate[vllm]'); "
                f"accepted backends: {', '.join(GENERATION_BACKENDS)}"
            ) from None
        self.tokenizer = tokenizer
        self.llm = LLM(model=str(model_path), dtype=dtype, seed=seed)

    def __call__(
        self, prompts: Sequence[list[int]], max_new_tokens: int, stop_ids: Sequence[int] = ()
    ) -> list[str]:
        from vllm import SamplingParams

        stop = [e for e in (self.tokenizer.eos_token_id, *stop_ids) if e is not None]
        params = SamplingParams(
            temperature=0.0, max_tokens=max_new_tokens, stop_token_ids=stop,
            skip_special_tokens=True,
        )  # fmt: skip
        outputs = self.llm.generate(
            [{"prompt_token_ids": list(p)} for p in prompts], params, use_tqdm=False
        )
        return [o.outputs[0].text.strip() for o in outputs]


def make_generator(
    backend: str,
    model: torch.nn.Module,
    tokenizer,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    model_path: str | None = None,
    dtype: str = "auto",
):
    """The generation backend named by ``eval.backend`` (``hf`` or ``vllm``)."""
    if backend == "hf":
        return HFGenerator(model, tokenizer, batch_size, device)
    if backend == "vllm":
        if model_path is None:
            raise ObliviateError("eval.backend=vllm needs the model saved on disk (a model path)")
        return VLLMGenerator(model_path, tokenizer, dtype)
    raise ObliviateError(
        f"eval.backend={backend!r} is unknown; accepted: {', '.join(GENERATION_BACKENDS)}"
    )
