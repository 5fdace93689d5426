"""vLLM as a chat backend, when the optional ``vllm`` package is installed (``obliviate[vllm]``).

``LLM.chat`` applies the model's chat template and batches every conversation of a call;
``SamplingParams(n, temperature, top_p, top_k (-1 = off), max_tokens, stop, seed)``.
Conversations ending with an assistant message are continued (``continue_final_message``),
the others get a generation prompt; the two groups are sent as two calls.
"""

from __future__ import annotations

from typing import Any

from ..errors import ObliviateError
from .backend import Backend, Conversation, Sampling


def vllm_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


class VLLMBackend(Backend):
    """Chat completions from a vLLM engine (GPU)."""

    kind = "vllm"

    def __init__(self, name_or_path: str, dtype: str = "auto", **engine_kwargs: Any):
        if not vllm_available():
            raise ObliviateError(
                "generate.backend=vllm needs the optional vllm package (pip install "
                "'obliviate[vllm]'); accepted without it: hf, openai, offline"
            )
        from vllm import LLM

        self.model = str(name_or_path)
        self.llm = LLM(model=self.model, dtype=dtype, **engine_kwargs)

    def _complete(self, conversations: list[Conversation], sampling: Sampling) -> list[list[str]]:
        from vllm import SamplingParams

        params = SamplingParams(
            n=sampling.n, temperature=sampling.temperature, top_p=sampling.top_p,
            top_k=sampling.top_k if sampling.top_k > 0 else -1, max_tokens=sampling.max_tokens,
            stop=list(sampling.stop) or None, seed=sampling.seed,
        )  # fmt: skip
        out: list[list[str] | None] = [None] * len(conversations)
        for prefill in (False, True):
            idx = [
                i for i, c in enumerate(conversations) if (c[-1]["role"] == "assistant") == prefill
            ]
            if not idx:
                continue
            results = self.llm.chat(
                [conversations[i] for i in idx], params, use_tqdm=False,
                add_generation_prompt=not prefill, continue_final_message=prefill,
            )  # fmt: skip
            for i, res in zip(idx, results):
                out[i] = [o.text for o in res.outputs]
        return out  # type: ignore[return-value]
