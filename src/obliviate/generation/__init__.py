"""The one generation backend (SPEC 5): token-id prompts or chat conversations in, completions
out, under :class:`Sampling` settings; used by evaluation (``eval.backend``), data generation
(``generate.backend``) and AltPO.

- :mod:`.backend`: the contract (:class:`Backend`, :class:`LocalBackend`);
- :mod:`.sampling`: decoding settings; :mod:`.prompts`: a conversation as prompt ids;
- :mod:`.hf` (local transformers model; :func:`generate` is the HF decoding loop, on
  :mod:`.decode`: finished sequences leave the batch),
  :mod:`.vllm` (vLLM, optional), :mod:`.http` (any OpenAI-compatible endpoint, chat only),
  :mod:`.cache` (content-hash disk cache in front of any of them).
"""

from .backend import Backend, Conversation, LocalBackend, Message, check_conversation
from .cache import CachedBackend
from .hf import HFBackend, generate
from .http import OpenAIBackend
from .sampling import Sampling, cut_at_stop
from .vllm import VLLMBackend, vllm_available

__all__ = [
    "Backend", "CachedBackend", "Conversation", "HFBackend", "LocalBackend", "Message",
    "OpenAIBackend", "Sampling", "VLLMBackend", "check_conversation", "cut_at_stop", "generate",
    "vllm_available",
]  # fmt: skip
