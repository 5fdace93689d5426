"""The request cache: :mod:`obliviate.generation.cache` (kept importable here)."""

from ..generation.cache import CachedBackend

__all__ = ["CachedBackend"]
