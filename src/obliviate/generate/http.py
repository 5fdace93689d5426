"""The OpenAI-compatible HTTP backend: :mod:`obliviate.generation.http` (kept importable here)."""

from ..generation.http import RETRY_STATUS, OpenAIBackend

__all__ = ["RETRY_STATUS", "OpenAIBackend"]
