"""The one place that turns a record into tokens (SPEC section 1).

Rules (SPEC 1.1, ``fixed`` preset):
F1 prompt and answer are tokenised separately and concatenated, so the label boundary is exact;
F2 labels are -100 on prompt and padding, answer tokens and EOS are labelled;
F3 EOS is appended unless the answer already ends with it; with a chat template the answer ends
   with the template's own turn end instead (``<|eot_id|>``, ``<|im_end|>\n``, ``<|end|>\n...``,
   ``<end_of_turn>\n``), derived by rendering a one-turn conversation (:func:`chat_turn`);
F4 BOS exactly once (templated strings are tokenised with ``add_special_tokens=False``; a chat
   template's rendered BOS is kept, else BOS is prepended unless the tokenizer's config says
   ``add_bos_token: false``);
F5 pad is distinct from EOS and attention masks come from lengths, never from ``ids != pad``;
F7 ``max_length`` applies on every path: the answer is cut from the right keeping the EOS slot,
   a prompt longer than ``max_length - 2`` is cut from the left keeping BOS;
F8 right padding for loss and scoring, left padding for generation.

KnowUnDo's token set (``kud-nn`` under ``eval.protocol=paper``, :meth:`Formatter.encode_kud_paper`):
the scored string is ``prompt + "\n\n" + answer`` tokenised as one string, the first
``len(tokenizer(prompt))`` positions are masked (BOS included), ``"\n\n" + answer`` is
labelled and no EOS is appended (KnowUnDo ``llm_unlearn/utils/save_tokenized_dataset.py``
lines 52-55 and ``llm_unlearn/utils/llm_tokenize_with_chunk.py`` lines 42-50, commit
92aea2b8). SPEC 1.3 (``kud-nn``: prompt ``q + "\n\n"``, answer ``a``) and F1/F3 describe
obliviate's ``fixed`` token set, not KnowUnDo's.
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
CHAT = ("chat", "auto")  # the tokenizer's chat template; auto: it when there is one, else qa-tags
_Q, _A = "\x00OBLIVIATE_Q\x00", "\x00OBLIVIATE_A\x00"  # placeholders no template alters


@validator
def _check_template(cfg: Any) -> None:
    if cfg.model.template not in (*TEMPLATES, *CHAT):
        raise ObliviateError(
            f"model.template={cfg.model.template!r} is unknown; "
            f"{did_you_mean(cfg.model.template, [*TEMPLATES, *CHAT])}"
        )


def resolve_template(tokenizer, template: str) -> str:
    """``auto`` -> ``chat`` when the tokenizer has a chat template, else ``qa-tags``."""
    if template == "auto":
        return "chat" if getattr(tokenizer, "chat_template", None) else "qa-tags"
    return template


# open-unlearning's TOFU chat settings (configs/model/Llama-3.2-1B-Instruct.yaml and
# Llama-3.1-8B-Instruct.yaml, ``template_args``; src/data/utils.py preprocess_chat_instance)
OU_SYSTEM_PROMPT = "You are a helpful assistant."
OU_TEMPLATE_ARGS = {"date_string": "10 Apr 2025"}


def chat_settings(cfg: Any) -> tuple[str, dict[str, str]]:
    """(system prompt, chat template variables) of the run: ``model.system_prompt`` and
    ``model.template_args``; under ``eval.protocol=ou`` on TOFU, open-unlearning's system line
    and ``date_string`` where those keys are unset (its models render their chat template with
    them in fine-tuning, unlearning and evaluation alike)."""
    system, args = cfg.model.system_prompt, dict(cfg.model.template_args)
    if cfg.eval.protocol == "ou" and cfg.benchmark.name == "tofu":
        system = system or OU_SYSTEM_PROMPT
        args = {**OU_TEMPLATE_ARGS, **args}
    return system, args


def render_chat(
    tokenizer,
    messages: list[dict[str, str]],
    generation_prompt: bool,
    template_args: dict[str, Any] | None = None,
) -> str:
    """The tokenizer's chat template as text (``template_args``: the template's extra variables,
    ``model.template_args``, e.g. Llama-3's ``date_string``); a template that rejects the
    conversation (e.g. Gemma's "System role not supported") is an ObliviateError naming
    ``model.system_prompt``."""
    try:
        return tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=generation_prompt,
            **(template_args or {}),
        )  # fmt: skip
    except Exception as exc:  # jinja's TemplateError and the template's own raise_exception
        roles = ", ".join(m["role"] for m in messages)
        raise ObliviateError(
            f"the tokenizer's chat template rejects a conversation of roles [{roles}]: "
            f"{str(exc).splitlines()[0]} (model.system_prompt must be empty for such a template)"
        ) from None


def chat_turn(
    tokenizer, system_prompt: str = "", template_args: dict[str, Any] | None = None
) -> tuple[str, str]:
    """(answer prefix, turn end) of the tokenizer's chat template.

    Renders ``[system?, user: Q]`` with the generation prompt and ``[system?, user: Q, assistant:
    A]`` without it; the second continues the first with ``prefix + A + turn_end``. A template
    whose one-turn rendering does not continue its generation prompt gives prefix ``""`` and the
    text after A as the turn end.
    """
    head = [{"role": "system", "content": system_prompt}] if system_prompt else []
    head.append({"role": "user", "content": _Q})
    prompt = render_chat(tokenizer, head, True, template_args)
    full = render_chat(
        tokenizer, [*head, {"role": "assistant", "content": _A}], False, template_args
    )
    if _A not in full:
        raise ObliviateError("the tokenizer's chat template drops the assistant message")
    before, _, end = full.partition(_A)
    prefix = before[len(prompt) :] if before.startswith(prompt) else ""
    return prefix, end


def special_ids(tokenizer, ids: Sequence[int]) -> list[int]:
    """The ids among ``ids`` that are special (or added) tokens, in order, without repeats."""
    special = set(tokenizer.all_special_ids)
    special |= {i for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items() if t.special}
    return list(dict.fromkeys(i for i in ids if i in special))


def turn_end_ids(tokenizer, system_prompt: str = "") -> list[int]:
    """Stop ids of the chat template's turn end (its special tokens); [] without a template."""
    if not getattr(tokenizer, "chat_template", None):
        return []
    _, end = chat_turn(tokenizer, system_prompt)
    return special_ids(tokenizer, tokenizer(end, add_special_tokens=False)["input_ids"])


def adds_bos(tokenizer) -> bool:
    """Whether a chat prompt starts with BOS: the tokenizer has one, unless its config says
    ``add_bos_token: false`` (e.g. Phi-3's, whose template writes no BOS either)."""
    if tokenizer.bos_token_id is None:
        return False
    return getattr(tokenizer, "init_kwargs", {}).get("add_bos_token") is not False


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

    def __init__(
        self,
        tokenizer,
        template: str = "qa-tags",
        max_length: int = 512,
        system_prompt: str = "",
        protocol: str = "fixed",
        template_args: dict[str, Any] | None = None,
    ):
        if template not in CHAT and template not in TEMPLATES:
            raise ObliviateError(
                f"template {template!r} is unknown; accepted: chat, auto, {', '.join(TEMPLATES)}"
            )
        if template == "chat" and not getattr(tokenizer, "chat_template", None):
            raise ObliviateError("model.template=chat but the tokenizer has no chat template")
        if tokenizer.pad_token_id is None:
            raise ObliviateError("the tokenizer has no pad token (see models.loading.ensure_pad)")
        if tokenizer.eos_token_id is not None and tokenizer.pad_token_id == tokenizer.eos_token_id:
            raise ObliviateError("pad token equals EOS: attention and labels would hide EOS")
        self.tok = tokenizer
        self.template = template  # as asked for (``auto`` stays ``auto`` for other tokenizers)
        self.kind = resolve_template(tokenizer, template)
        self.max_length = max_length
        self.system_prompt = system_prompt
        self.template_args = dict(template_args or {})  # chat template variables
        # eval.protocol: paper / ou give ``kud-nn`` KnowUnDo's token set (encode_kud_paper)
        self.protocol = protocol
        # KnowUnDo's fine-tuning appends a labelled EOS to its token set (``pretrain/
        # data_module.py`` l. 43-67); its unlearning and evaluation do not (set by the stage)
        self.kud_eos = False
        self.bos_id = tokenizer.bos_token_id
        self.eos_id = tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id
        self.answer_prefix, self.turn_end = "", ""
        self.stop_ids: list[int] = []  # generation stops here besides EOS (the turn end)
        if self.kind == "chat":
            self.answer_prefix, self.turn_end = chat_turn(
                tokenizer, system_prompt, self.template_args
            )
            self.stop_ids = special_ids(tokenizer, self._ids(self.turn_end))
        self._chat_bos = adds_bos(tokenizer)

    @property
    def is_chat(self) -> bool:
        return self.kind == "chat"

    def messages(self, user: str) -> list[dict[str, str]]:
        """The one-turn conversation of a prompt (with ``system_prompt`` when set)."""
        head = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*head, {"role": "user", "content": user}]

    def conversation_ids(self, messages: list[dict[str, str]]) -> list[int]:
        """A chat conversation with the generation prompt, tokenised, BOS once (F4)."""
        text = render_chat(self.tok, messages, True, self.template_args)
        return self._chat_bos_once(self._ids(text))

    def _chat_bos_once(self, ids: list[int]) -> list[int]:
        if self._chat_bos and (not ids or ids[0] != self.bos_id):
            return [self.bos_id, *ids]
        return ids

    # ---- strings -------------------------------------------------------------------------
    def prompt_text(self, question: str, prefix: str = "") -> str:
        """The prompt string for a question (``prefix`` is prepended to the user message)."""
        if self.is_chat:
            return render_chat(self.tok, self.messages(prefix + question), True, self.template_args)
        fmt, _ = TEMPLATES[self.kind]
        return fmt.format(q=prefix + question) if fmt else prefix + question

    def answer_text(self, answer: str) -> str:
        if self.is_chat:
            return self.answer_prefix + answer
        return TEMPLATES[self.kind][1] + answer

    def answer_end(self) -> list[int]:
        """The labelled ids that close an answer: the turn end (chat), else EOS (F3)."""
        if self.is_chat and self.turn_end:
            return self._ids(self.turn_end)
        return [self.eos_id] if self.eos_id is not None else []

    # ---- ids -----------------------------------------------------------------------------
    def _ids(self, text: str) -> list[int]:
        if not text:
            return []
        return list(self.tok(text, add_special_tokens=False)["input_ids"])

    def _with_bos(self, ids: list[int]) -> list[int]:
        if self.is_chat:
            return self._chat_bos_once(ids)
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

    @property
    def kud_paper(self) -> bool:
        """Whether QA pairs get KnowUnDo's own token set (``kud-nn`` under paper / ou)."""
        return self.kind == "kud-nn" and self.protocol != "fixed"

    def encode_kud_paper(self, question: str, answer: str, prefix: str = "") -> Encoded:
        """KnowUnDo's token set (KnowUnDo ``save_tokenized_dataset.py`` l. 52-55,
        ``llm_tokenize_with_chunk.py`` l. 20-50, commit 92aea2b8):

            text = prefix + question + "\n\n" + answer,  l = "\n\n" + answer
            ids = [BOS] + tokens(text)[: max_length]     (one string, cut from the right)
            labels = ids with the first len([BOS] + tokens(text.replace(l, ""))) positions
                     and every pad id masked

        so the two separator tokens are labelled and no EOS is appended or scored. With
        ``kud_eos`` (the fine-tune stage) a labelled EOS follows when the text leaves room, as
        KnowUnDo's fine-tuning labels it (``pretrain/data_module.py`` l. 43-67: the question
        masked by ``len(tokenizer.tokenize(q, add_special_tokens=True))``, ``"\n\n" + a`` and
        EOS labelled, ``max_length`` 500 there). The mask
        length comes from the prompt tokenised alone, as KnowUnDo's does (a BPE merge across the
        boundary shifts it); ``text.replace(l, "")`` removes every occurrence of ``l``, as
        KnowUnDo's. An item cut to nothing labelled keeps no labels (KnowUnDo skips it).
        """
        label_text = "\n\n" + answer
        text = prefix + question + label_text
        ids = self._with_bos(self._ids(text))[: self.max_length]
        pre_len = len(self._with_bos(self._ids(text.replace(label_text, ""))))
        labels = [IGNORE_INDEX if i < pre_len or t == self.pad_id else t for i, t in enumerate(ids)]
        if self.kud_eos and self.eos_id is not None and len(ids) < self.max_length:
            ids, labels = [*ids, self.eos_id], [*labels, self.eos_id]
        return Encoded(ids, labels)

    def encode_pair(self, question: str, answer: str, prefix: str = "") -> Encoded:
        """[BOS] + prompt + answer + end, labels on answer and end only (F1-F4, F7); end = EOS,
        or the chat template's turn end. ``kud-nn`` under ``protocol`` paper / ou:
        :meth:`encode_kud_paper`."""
        if self.kud_paper:
            return self.encode_kud_paper(question, answer, prefix)
        prompt = self._with_bos(self._ids(self.prompt_text(question, prefix)))
        body = self._ids(self.answer_text(answer))
        end = self.answer_end()
        if end and body[-len(end) :] == end:
            body = body[: -len(end)]
        keep = max(2, len(end) + 1)  # the prompt leaves room for one answer token + the end
        if len(prompt) > self.max_length - keep:
            prompt = self._cut_prompt(prompt, self.max_length - keep)
        room = self.max_length - len(prompt)
        answer_ids = body[: max(0, room - len(end))] + end
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
