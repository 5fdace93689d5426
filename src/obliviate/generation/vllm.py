"""vLLM as a generation backend, when the optional ``vllm`` package is installed
(``obliviate[vllm]``), from a model directory or hub id.

Token-id prompts go to ``LLM.generate([{"prompt_token_ids": ids}, ...])`` with
``SamplingParams(n, temperature, top_p, top_k (-1 = off), max_tokens, stop, stop_token_ids =
EOS + the chat template's turn end + stop ids, seed, skip_special_tokens=True)``; completions
are stripped, as in :mod:`.hf`.
Conversations become prompt ids exactly as for the HF backend (:mod:`.prompts`), so both
backends see the same prompt.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from ..errors import ObliviateError
from ..formatting import turn_end_ids
from .backend import LocalBackend
from .sampling import Sampling


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


class VLLMBackend(LocalBackend):
    """Completions from a vLLM engine (GPU). ``setting`` names the option in error messages."""

    kind = "vllm"

    def __init__(
        self,
        name_or_path: str,
        dtype: str = "auto",
        tokenizer: Any = None,
        template: str = "qa-tags",
        max_length: int = 2048,
        setting: str = "generate.backend",
        **engine_kwargs: Any,
    ):
        if not vllm_available():
            raise ObliviateError(
                f"{setting}=vllm needs the vllm package (pip install 'obliviate[vllm]'); "
                "use the hf backend without it"
            )
        from vllm import LLM  # optional dependency: imported only when asked for

        self.model = str(name_or_path)
        self.llm = LLM(model=self.model, dtype=dtype, **engine_kwargs)
        self.tok = tokenizer if tokenizer is not None else self.llm.get_tokenizer()
        self.template = template
        self.max_length = max_length

    def _generate(self, prompts: list[list[int]], sampling: Sampling) -> list[list[str]]:
        from vllm import SamplingParams

        ends = (self.tok.eos_token_id, *turn_end_ids(self.tok), *sampling.stop_ids)
        stop_ids = list(dict.fromkeys(e for e in ends if e is not None))
        params = SamplingParams(
            n=sampling.n, temperature=sampling.temperature, top_p=sampling.top_p,
            top_k=sampling.top_k if sampling.top_k > 0 else -1, max_tokens=sampling.max_tokens,
            stop=list(sampling.stop) or None, stop_token_ids=stop_ids, seed=sampling.seed,
            skip_special_tokens=True,
        )  # fmt: skip
        outputs = self.llm.generate(
            [{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False
        )
        return [[o.text.strip() for o in out.outputs] for out in outputs]
