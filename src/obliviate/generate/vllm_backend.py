"""The vLLM backend: :mod:`obliviate.generation.vllm` (kept importable here)."""

from ..generation.vllm import VLLMBackend, vllm_available

__all__ = ["VLLMBackend", "vllm_available"]
