"""The LLM backend contract for data generation (SPEC 5, "LLM backend contract").

Every backend answers ``chat(messages, *, temperature, top_p, top_k, max_tokens, n, stop, seed)
-> list[str]`` (``n`` completions of one conversation) and ``chat_many(conversations, sampling)
-> list[list[str]]`` (a batch; local backends batch on the device, the HTTP backend sends
concurrent requests). ``messages`` is a list of ``{"role": "system"|"user"|"assistant",
"content": str}``; a trailing ``assistant`` message is a pre-fill the completion continues
(RWKU's biography openings, the "Question:" cue of its refusal corpus).

Implementations: :mod:`.hf` (local transformers model), :mod:`.vllm_backend` (vLLM when
installed), :mod:`.http` (any OpenAI-compatible endpoint); :mod:`.cache` wraps any of them with
a content-addressed disk cache.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from ..errors import ObliviateError

Message = dict[str, str]
Conversation = list[Message]
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Sampling:
    """Decoding parameters of one request. ``temperature == 0`` means greedy; ``top_k == 0``
    means no top-k filter; ``stop`` strings end a completion (the stop string is cut off)."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int = 256
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 1 or self.max_tokens < 1:
            raise ObliviateError(
                f"sampling: n={self.n} and max_tokens={self.max_tokens} must be >= 1"
            )
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise ObliviateError(
                f"sampling: temperature={self.temperature} (>= 0), top_p={self.top_p} (in (0, 1]) "
                f"and top_k={self.top_k} (>= 0) out of range"
            )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stop": list(self.stop)}


def check_conversation(messages: Sequence[Message]) -> None:
    """Reject malformed conversations before any request is paid for."""
    if not messages:
        raise ObliviateError("chat: a conversation needs at least one message")
    for i, m in enumerate(messages):
        if m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise ObliviateError(
                f"chat: message {i} is {m!r}; expected {{'role': one of {', '.join(ROLES)}, "
                "'content': str}"
            )


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the earliest occurrence of any stop string."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


class Backend(ABC):
    """A chat-completion LLM. ``kind`` and ``model`` identify it in the cache key."""

    kind: ClassVar[str] = ""
    model: str = ""

    def chat(
        self,
        messages: Conversation,
        *,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        max_tokens: int = 256,
        n: int = 1,
        stop: Sequence[str] = (),
        seed: int = 0,
    ) -> list[str]:
        """``n`` completions of one conversation."""
        sampling = Sampling(temperature, top_p, top_k, max_tokens, n, tuple(stop), seed)
        return self.chat_many([messages], sampling)[0]

    def chat_many(
        self, conversations: Sequence[Conversation], sampling: Sampling
    ) -> list[list[str]]:
        """``sampling.n`` completions for each conversation, in order."""
        for conv in conversations:
            check_conversation(conv)
        if not conversations:
            return []
        out = self._complete(list(conversations), sampling)
        return [[cut_at_stop(t, sampling.stop) for t in texts] for texts in out]

    @abstractmethod
    def _complete(self, conversations: list[Conversation], sampling: Sampling) -> list[list[str]]:
        """The backend's batched completion (stop strings may be left in; they are cut here)."""
