"""The one place that turns a record into tokens (SPEC section 1).

Rules (SPEC 1.1, ``fixed`` preset):
F1 prompt and answer are tokenised separately and concatenated, so the label boundary is exact;
F2 labels are -100 on prompt and padding, answer tokens and EOS are labelled;
F3 EOS is appended unless the answer already ends with it;
F4 BOS exactly once (templated strings are tokenised with ``add_special_tokens=False``);
F5 pad is distinct from EOS and attention masks come from lengths, never from ``ids != pad``;
F7 ``max_length`` applies on every path: the answer is cut from the right keeping the EOS slot,
   a prompt longer than ``max_length - 2`` is cut from the left keeping BOS;
F8 right padding for loss and scoring, left padding for generation.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .config import validator
from .errors import ObliviateError, did_you_mean
from .records import MCItem, Passage, QAItem, Record

IGNORE_INDEX = -100

# family -> (prompt format, answer prefix). "{q}" is the question.
TEMPLATES: dict[str, tuple[str, str]] = {
    "qa-tags": ("Question: {q}\nAnswer:", " "),
    "kud-nn": ("{q}\n\n", ""),
    "kud-plain": ("{q}", ""),
    "llama2-inst": ("[INST] {q} [/INST]", " "),
    "raw-text": ("", ""),
}


@validator
def _check_template(cfg: Any) -> None:
    if cfg.model.template not in (*TEMPLATES, "chat"):
        raise ObliviateError(
            f"model.template={cfg.model.template!r} is unknown; "
            f"{did_you_mean(cfg.model.template, [*TEMPLATES, 'chat'])}"
        )


@dataclass
class Encoded:
    """One tokenised example: ``labels`` has IGNORE_INDEX on every unlabelled position."""

    input_ids: list[int]
    labels: list[int]

    @property
    def n_labels(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE_INDEX)


class Formatter:
    """Prompt template + tokenizer + max length: everything that decides the token ids."""

    def __init__(self, tokenizer, template: str = "qa-tags", max_length: int = 512):
        if template != "chat" and template not in TEMPLATES:
            raise ObliviateError(
                f"template {template!r} is unknown; accepted: chat, {', '.join(TEMPLATES)}"
            )
        if template == "chat" and not getattr(tokenizer, "chat_template", None):
            raise ObliviateError("model.template=chat but the tokenizer has no chat template")
        if tokenizer.pad_token_id is None:
            raise ObliviateError("the tokenizer has no pad token (see models.loading.ensure_pad)")
        if tokenizer.eos_token_id is not None and tokenizer.pad_token_id == tokenizer.eos_token_id:
            raise ObliviateError("pad token equals EOS: attention and labels would hide EOS")
        self.tok = tokenizer
        self.template = template
        self.max_length = max_length
        self.bos_id = tokenizer.bos_token_id
        self.eos_id = tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id

    # ---- strings -------------------------------------------------------------------------
    def prompt_text(self, question: str, prefix: str = "") -> str:
        """The prompt string for a question (``prefix`` is prepended to the user message)."""
        if self.template == "chat":
            messages = [{"role": "user", "content": prefix + question}]
            return self.tok.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        fmt, _ = TEMPLATES[self.template]
        return fmt.format(q=prefix + question) if fmt else prefix + question

    def answer_text(self, answer: str) -> str:
        if self.template == "chat":
            return answer
        return TEMPLATES[self.template][1] + answer

    # ---- ids -----------------------------------------------------------------------------
    def _ids(self, text: str) -> list[int]:
        if not text:
            return []
        return list(self.tok(text, add_special_tokens=False)["input_ids"])

    def _with_bos(self, ids: list[int]) -> list[int]:
        if self.bos_id is not None and (not ids or ids[0] != self.bos_id):
            return [self.bos_id, *ids]
        return ids

    def prompt_ids(self, question: str, prefix: str = "") -> list[int]:
        """BOS + prompt tokens, left-truncated to ``max_length`` (used for generation)."""
        ids = self._with_bos(self._ids(self.prompt_text(question, prefix)))
        return self._cut_prompt(ids, self.max_length)

    def _cut_prompt(self, ids: list[int], limit: int) -> list[int]:
        if len(ids) <= limit:
            return ids
        warnings.warn(
            f"prompt of {len(ids)} tokens cut from the left to {limit} (max_length)",
            stacklevel=3,
        )
        keep_bos = self.bos_id is not None and ids and ids[0] == self.bos_id
        head = [ids[0]] if keep_bos else []
        return head + ids[len(ids) - (limit - len(head)) :]

    def encode_pair(self, question: str, answer: str, prefix: str = "") -> Encoded:
        """[BOS] + prompt + answer + [EOS], labels on answer and EOS only (F1-F4, F7)."""
        prompt = self._with_bos(self._ids(self.prompt_text(question, prefix)))
        answer_ids = self._ids(self.answer_text(answer))
        if self.eos_id is not None and (not answer_ids or answer_ids[-1] != self.eos_id):
            answer_ids.append(self.eos_id)
        if len(prompt) > self.max_length - 2:
            prompt = self._cut_prompt(prompt, self.max_length - 2)
        room = self.max_length - len(prompt)
        if len(answer_ids) > room:
            answer_ids = answer_ids[: room - 1] + answer_ids[-1:]
        return Encoded(prompt + answer_ids, [IGNORE_INDEX] * len(prompt) + answer_ids)

    def encode_text(self, text: str, prefix: str = "") -> Encoded:
        """A raw passage: BOS + text + EOS, every token after BOS labelled (``raw-text``)."""
        ids = self._with_bos(self._ids(prefix + text))
        if self.eos_id is not None:
            ids.append(self.eos_id)
        if len(ids) > self.max_length:
            ids = ids[: self.max_length - 1] + ids[-1:]
        start = 1 if self.bos_id is not None else 0
        return Encoded(ids, [IGNORE_INDEX] * start + ids[start:])

    def encode_record(self, rec: Record, answer: str | None = None) -> Encoded:
        """Encode a record for training or scoring; ``answer`` overrides a QA item's answer."""
        if isinstance(rec, QAItem):
            return self.encode_pair(rec.question, rec.answer if answer is None else answer)
        if isinstance(rec, Passage):
            return self.encode_text(rec.text)
        if isinstance(rec, MCItem):
            return self.encode_pair(rec.question, rec.choices[rec.answer])
        raise TypeError(f"cannot encode {type(rec).__name__}")


# ---- collation ---------------------------------------------------------------------------
def collate_right(batch: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad for loss/scoring; attention mask from lengths (F5, F8)."""
    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, e in enumerate(batch):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        mask[i, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def collate_left(prompts: Sequence[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Left-pad prompts for batched generation (F8)."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p) :] = torch.tensor(p)
        mask[i, width - len(p) :] = 1
    return {"input_ids": ids, "attention_mask": mask}
