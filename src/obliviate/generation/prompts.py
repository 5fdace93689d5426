"""A chat conversation as the token ids a local model continues (SPEC 1.1 F4).

The tokenizer's chat template (``add_generation_prompt=True``, tokenised without special tokens,
BOS once, the last ``max_length`` ids kept) when it has one, else the run's prompt family
(``formatting.TEMPLATES``) applied to the system and user contents joined by blank lines. A
trailing assistant message is appended after the generation prompt as a pre-fill.
"""

from __future__ import annotations

from typing import Any

from ..formatting import Formatter


class ChatPrompt:
    """``ChatPrompt(tokenizer, template, max_length)(conversation) -> list[int]``."""

    def __init__(self, tokenizer: Any, template: str = "qa-tags", max_length: int = 2048):
        self.tok = tokenizer
        self.max_length = max_length
        self.chat_template = bool(getattr(tokenizer, "chat_template", None))
        self.formatter = None if self.chat_template else Formatter(tokenizer, template, max_length)

    def __call__(self, conversation: list[dict[str, str]]) -> list[int]:
        prefill = ""
        if conversation[-1]["role"] == "assistant":
            prefill, conversation = conversation[-1]["content"], conversation[:-1]
        if self.formatter is None:
            text = self.tok.apply_chat_template(
                conversation, tokenize=False, add_generation_prompt=True
            )
            ids = list(self.tok(text + prefill, add_special_tokens=False)["input_ids"])
            bos = self.tok.bos_token_id
            if bos is not None and (not ids or ids[0] != bos):
                ids = [bos, *ids]
            return ids[-self.max_length :]
        question = "\n\n".join(m["content"] for m in conversation if m["content"])
        ids = self.formatter.prompt_ids(question)
        if prefill:
            answer = self.formatter.answer_text(prefill)
            ids = ids + list(self.tok(answer, add_special_tokens=False)["input_ids"])
        return ids
