"""The LLM backend contract for data generation: :mod:`obliviate.generation.backend` (one
backend for evaluation, data generation and AltPO); these names stay importable from here."""

from ..generation.backend import ROLES, Backend, Conversation, Message, check_conversation
from ..generation.sampling import Sampling, cut_at_stop

__all__ = ["ROLES", "Backend", "Conversation", "Message", "Sampling", "check_conversation",
           "cut_at_stop"]  # fmt: skip
