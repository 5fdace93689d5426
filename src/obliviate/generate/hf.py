"""A local transformers model as a chat backend (any hub id or path, or a run's own model).

Prompt: the tokenizer's chat template (``add_generation_prompt=True``, tokenised without
special tokens, BOS once; SPEC 1.1 F4) when it has one, else the run's prompt family
(``formatting.TEMPLATES``) applied to the system and user contents joined by blank lines. A
trailing assistant message is appended after the generation prompt as a pre-fill. Generation is
:func:`obliviate.eval.generation.generate` (batched, left padding, KV cache, only new tokens
decoded) with sampling arguments; ``n`` completions = each prompt repeated ``n`` times;
``temperature == 0`` is greedy. ``seed`` seeds torch's RNG before the batch, so a request is
reproducible for a fixed batch composition. Stop strings end generation early
(``stop_strings``) and are cut from the text.
"""

from __future__ import annotations

from typing import Any

import torch

from ..eval.generation import generate
from ..formatting import Formatter
from .backend import Backend, Conversation, Sampling


class HFBackend(Backend):
    """Chat completions from a loaded causal LM and its tokenizer."""

    kind = "hf"

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        name: str,
        template: str = "qa-tags",
        batch_size: int = 16,
        max_length: int | None = None,
        device: torch.device | str = "cpu",
    ):
        if max_length is None:  # room for the completion within the position limit
            positions = getattr(getattr(model, "config", None), "max_position_embeddings", 4096)
            max_length = min(2048, positions // 2)
        self.lm = model
        self.tok = tokenizer
        self.model = name
        self.chat_template = bool(getattr(tokenizer, "chat_template", None))
        self.formatter = None if self.chat_template else Formatter(tokenizer, template, max_length)
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device

    @classmethod
    def load(
        cls, name_or_path: str, dtype: str = "float32", trust_remote_code: bool = False, **kw: Any
    ) -> HFBackend:
        from ..models.loading import load_pretrained

        model, tok = load_pretrained(name_or_path, dtype, trust_remote_code)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        return cls(model.to(device), tok, str(name_or_path), device=device, **kw)

    def prompt_ids(self, conversation: Conversation) -> list[int]:
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

    def _complete(self, conversations: list[Conversation], sampling: Sampling) -> list[list[str]]:
        prompts = [self.prompt_ids(c) for c in conversations for _ in range(sampling.n)]
        kwargs: dict[str, Any] = {}
        if sampling.temperature > 0:
            kwargs = {"do_sample": True, "temperature": sampling.temperature,
                      "top_p": sampling.top_p, "top_k": sampling.top_k}  # fmt: skip
        if sampling.stop:
            kwargs.update(stop_strings=list(sampling.stop), tokenizer=self.tok)
        torch.manual_seed(sampling.seed)
        texts = generate(
            self.lm, self.tok, prompts, self.batch_size, sampling.max_tokens, self.device,
            sampling=kwargs,
        )  # fmt: skip
        n = sampling.n
        return [texts[i * n : (i + 1) * n] for i in range(len(conversations))]
