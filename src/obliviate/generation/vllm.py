"""vLLM as a generation backend, when the optional ``vllm`` package is installed
(``obliviate[vllm]``), from a model directory or hub id.

Token-id prompts go to ``LLM.generate([{"prompt_token_ids": ids}, ...])`` with
``SamplingParams(n, temperature, top_p, top_k (-1 = off), max_tokens, stop, stop_token_ids =
EOS + the chat template's turn end + stop ids, seed, skip_special_tokens=True)``; completions
are stripped, as in :mod:`.hf`.
Conversations become prompt ids exactly as for the HF backend (:mod:`.prompts`), so both
backends see the same prompt.

Scale (``eval.vllm_*``, :class:`VLLMSettings`): ``tensor_parallel_size`` and
``gpu_memory_utilization`` go to the engine; an adapter run (``models/<role>`` holding a LoRA
adapter) is served with vLLM's LoRA support (``enable_lora`` + a ``LoRARequest`` per call) on
its base model. Not yet verified on a GPU (vLLM needs one).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ObliviateError
from ..formatting import turn_end_ids
from .backend import LocalBackend
from .sampling import Sampling


@dataclass
class VLLMSettings:
    """The engine settings read from the eval config (``eval.vllm_*``; defaults here while the
    eval section does not declare them: ``engine_kwargs`` reads them with ``getattr``)."""

    vllm_tensor_parallel_size: int = 1  # GPUs one vLLM engine spans
    vllm_gpu_memory_utilization: float = 0.9  # fraction of GPU memory the engine may take
    vllm_max_lora_rank: int = 64  # adapter runs: the largest LoRA rank vLLM reserves for


def engine_kwargs(settings: object, model_dir: str | Path) -> tuple[str, dict[str, Any]]:
    """(model to load, engine kwargs) for a saved model or an adapter directory."""
    import json

    d = VLLMSettings()
    kw: dict[str, Any] = {
        "tensor_parallel_size": getattr(
            settings, "vllm_tensor_parallel_size", d.vllm_tensor_parallel_size
        ),
        "gpu_memory_utilization": getattr(
            settings, "vllm_gpu_memory_utilization", d.vllm_gpu_memory_utilization
        ),
    }
    adapter = Path(model_dir) / "adapter_config.json"
    if not adapter.is_file():
        return str(model_dir), kw
    base = json.loads(adapter.read_text()).get("base_model_name_or_path", "")
    if not base:
        raise ObliviateError(f"{adapter}: base_model_name_or_path is empty")
    kw |= {"enable_lora": True, "max_lora_rank": getattr(settings, "vllm_max_lora_rank", d.vllm_max_lora_rank),
           "lora_path": str(model_dir)}  # fmt: skip
    return base, kw


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
        self.lora_path = engine_kwargs.pop("lora_path", None)  # an adapter served on its base
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
        kwargs: dict[str, Any] = {}
        if self.lora_path:
            from vllm.lora.request import LoRARequest

            kwargs["lora_request"] = LoRARequest("obliviate", 1, self.lora_path)
        outputs = self.llm.generate(
            [{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False, **kwargs
        )
        return [[o.text.strip() for o in out.outputs] for out in outputs]
