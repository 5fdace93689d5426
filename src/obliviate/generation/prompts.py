"""A chat conversation as the token ids a local model continues (SPEC 1.1 F4).

The tokenizer's chat template (``add_generation_prompt=True``, tokenised without special tokens,
BOS once as :class:`~obliviate.formatting.Formatter` puts it, the last ``max_length`` ids kept)
when it has one, else the run's prompt family
(``formatting.TEMPLATES``) applied to the system and user contents joined by blank lines. A
trailing assistant message is appended after the generation prompt as a pre-fill.
"""

from __future__ import annotations

from typing import Any

from ..formatting import Formatter


class ChatPrompt:
    """``ChatPrompt(tokenizer, template, max_length)(conversation) -> list[int]``."""

    def __init__(self, tokenizer: Any, template: str = "auto", max_length: int = 2048):
        self.tok = tokenizer
        self.max_length = max_length
        self.chat_template = bool(getattr(tokenizer, "chat_template", None))
        self.formatter = Formatter(
            tokenizer, "chat" if self.chat_template else template, max_length
        )

    def __call__(self, conversation: list[dict[str, str]]) -> list[int]:
        prefill = ""
        if conversation[-1]["role"] == "assistant":
            prefill, conversation = conversation[-1]["content"], conversation[:-1]
        if self.chat_template:
            ids = self.formatter.conversation_ids(conversation)
            if prefill:
                ids += self.formatter._ids(self.formatter.answer_text(prefill))
            return ids[-self.max_length :]
        question = "\n\n".join(m["content"] for m in conversation if m["content"])
        ids = self.formatter.prompt_ids(question)
        if prefill:
            answer = self.formatter.answer_text(prefill)
            ids = ids + list(self.tok(answer, add_special_tokens=False)["input_ids"])
        return ids
