"""The one generation backend contract (SPEC 5, "LLM backend contract"), used by evaluation,
data generation and AltPO.

Every backend answers

- ``generate(prompts, sampling) -> list[list[str]]``: ``sampling.n`` completions of each
  token-id prompt, only the new tokens decoded (local backends: :mod:`.hf`, :mod:`.vllm`);
- ``chat_many(conversations, sampling) -> list[list[str]]`` and ``chat(messages, **sampling)``:
  completions of chat conversations (every backend; the OpenAI-compatible :mod:`.http` backend
  takes text only, local backends turn a conversation into prompt ids with :mod:`.prompts`);
- ``backend(prompts, max_new_tokens, stop_ids=()) -> list[str]``: evaluation's greedy call.

``messages`` is a list of ``{"role": "system"|"user"|"assistant", "content": str}``; a trailing
``assistant`` message is a pre-fill the completion continues (RWKU's biography openings, the
"Question:" cue of its refusal corpus). Stop strings are cut from every completion here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar

from ..errors import ObliviateError
from .prompts import ChatPrompt
from .sampling import Sampling, cut_at_stop

Message = dict[str, str]
Conversation = list[Message]
ROLES = ("system", "user", "assistant")


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


def _cut(out: list[list[str]], stop: Sequence[str]) -> list[list[str]]:
    return [[cut_at_stop(t, stop) for t in texts] for texts in out]


class Backend(ABC):
    """An LLM. ``kind`` and ``model`` identify it in the cache key."""

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
        return _cut(self._complete(list(conversations), sampling), sampling.stop)

    def generate(self, prompts: Sequence[Sequence[int]], sampling: Sampling) -> list[list[str]]:
        """``sampling.n`` completions of each token-id prompt, in order."""
        if not prompts:
            return []
        return _cut(self._generate([list(p) for p in prompts], sampling), sampling.stop)

    def __call__(
        self, prompts: Sequence[Sequence[int]], max_new_tokens: int, stop_ids: Sequence[int] = ()
    ) -> list[str]:
        """Greedy continuations (evaluation), stopping on EOS and ``stop_ids``."""
        return [t[0] for t in self.generate(prompts, Sampling.greedy(max_new_tokens, stop_ids))]

    @abstractmethod
    def _complete(self, conversations: list[Conversation], sampling: Sampling) -> list[list[str]]:
        """The backend's batched chat completion (stop strings may be left in)."""

    def _generate(self, prompts: list[list[int]], sampling: Sampling) -> list[list[str]]:
        """The backend's batched token-id completion (stop strings may be left in)."""
        raise ObliviateError(
            f"the {self.kind or type(self).__name__} backend takes chat messages, not token-id "
            "prompts; use a local backend (hf or vllm)"
        )


class LocalBackend(Backend):
    """A backend with the model's tokenizer: a conversation becomes prompt ids (:mod:`.prompts`)
    and is completed by :meth:`_generate`."""

    tok: Any
    template: str = "auto"
    max_length: int = 2048

    @cached_property
    def chat_prompt(self) -> ChatPrompt:
        return ChatPrompt(self.tok, self.template, self.max_length)

    def prompt_ids(self, conversation: Conversation) -> list[int]:
        return self.chat_prompt(conversation)

    def _complete(self, conversations: list[Conversation], sampling: Sampling) -> list[list[str]]:
        return self._generate([self.prompt_ids(c) for c in conversations], sampling)

    @abstractmethod
    def _generate(self, prompts: list[list[int]], sampling: Sampling) -> list[list[str]]: ...
