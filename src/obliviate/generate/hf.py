"""The local transformers backend: :mod:`obliviate.generation.hf` (kept importable here)."""

from ..generation.hf import HFBackend

__all__ = ["HFBackend"]
