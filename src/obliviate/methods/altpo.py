"""AltPO: DPO with alternate answers the model generates itself (Mekala et al. 2024, "Alternate
Preference Optimization"; OU community AltPO), SPEC 3.2, 5.4. The loss, the cached reference
log-probs and L = γ·L_f + α·L_r are :class:`~obliviate.methods.preference.PreferenceMethod`'s.

y_l = the forget answer; y_w = an alternate answer the model itself generates in ``prepare``
from OU's Llama-3 prompt (question + original answer + the instruction below, assistant turn
pre-filled with "Alternate Answer :"): ``num_alternates`` samples per item at ``temperature``
(SPEC 5.4: 5 at T = 1, 200 new tokens; seeded; ``temperature=0`` is one greedy alternate), cut
at "Question:"/"Q:", each its own (alternate ≻ original) pair, as the reference dataset has one
row per alternate (molereddy/Alternate-Preference-Optimization, ``TextForgetDatasetSubFullQA``).
``instruction=false`` drops the instruction (a model that follows no instructions, or a
``max_length`` too short for it: prompts are cut from the left, which would cut the question and
answer first).

Prompt (``prompt``; ``auto`` follows ``eval.protocol``: ``paper``/``ou`` -> ``ou``, ``fixed`` ->
``template``). ``ou``: OU's query string byte for byte (locuslab/open-unlearning @
d3d7cf9e6b3c125d16687d4232680d8d83548f1a, ``community/methods/AltPO/generate.py``
``INST_QAS_LLAMA3_TEMPLATE_QUERY``: its hard-coded Llama-3 header with the system line "You are a
helpful AI assistant", a newline after each ``<|eot_id|>`` and a space after the assistant
header; ``INST_QAS_TEMPLATE_QUERY`` with its shorter instruction for ``model.template=llama2-inst``),
tokenised as OU's ``tok_batch_encode`` does (``tokenizer(text)``: the tokenizer's own BOS is added
before the string's ``<|begin_of_text|>``, so Llama-3 sees two), never cut. ``template``: the
question, answer and instruction as the user turn of the run's own template (``model.template``,
``model.system_prompt``), BOS once, then " Alternate Answer :".
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ObliviateError
from ..generation import HFBackend, Sampling
from .base import Context, register
from .preference import PreferenceMethod, PreferenceParams, qa_records

ALTPO_INSTRUCTION = (
    "Now pretend you are making things up. Write another answer to the question that is of a "
    "different template than the given answer and changes all facts from what are introduced "
    "in the given answer (changed answers must be plausible while being inconsistent with given "
    "answer). Ensure that your alternate answer is a plausible response to the question and "
    "doesn't change any details mentioned in question and only introduces changes to all the "
    "facts introduced answer."
)
ALTPO_PREFILL = "Alternate Answer :"
ALTPO_LLAMA2_INSTRUCTION = (
    "Now write another version of the answer with some alternate plausible facts that change "
    "answer details.\n"
)
# OU's query strings ({question}, {answer}, {instruction} filled in by str.replace, as OU does)
OU_LLAMA3_QUERY = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful AI "
    "assistant<|eot_id|>\n<|start_header_id|>user<|end_header_id|>\n\nQuestion: {question}\n"
    "Answer: {answer}\n{instruction}<|eot_id|>\n<|start_header_id|>assistant<|end_header_id|> "
    "\n\nAlternate Answer :"
)
OU_LLAMA2_QUERY = (
    "[INST] Question: {question}\nAnswer:{answer}\n{instruction} [/INST] Alternate Answer :"
)
PROMPTS = ("auto", "ou", "template")
ALTPO_STOP = re.compile(r"\b(Question:|Q:)")


@dataclass
class AltPOParams(PreferenceParams):
    RANGES = {
        "max_new_tokens": ">= 1",
        "num_alternates": ">= 1",
        "temperature": ">= 0",
    }  # not a field: value ranges checked at config load (obliviate.checks)
    max_new_tokens: int = 200
    instruction: bool = True
    num_alternates: int = 5
    temperature: float = 1.0  # 0: greedy (then one alternate per item)
    seed: int = 42
    prompt: str = "auto"  # ou | template | auto (eval.protocol: paper/ou -> ou, fixed -> template)


def ou_altpo_text(formatter: Any, question: str, answer: str, instruction: bool = True) -> str:
    """OU's AltPO query string: the Llama-2 one for ``llama2-inst``, else the Llama-3 one."""
    llama2 = formatter.kind == "llama2-inst"
    query, instr = (
        (OU_LLAMA2_QUERY, ALTPO_LLAMA2_INSTRUCTION)
        if llama2
        else (OU_LLAMA3_QUERY, ALTPO_INSTRUCTION)
    )
    fill = {
        "{question}": question,
        "{answer}": answer,
        "{instruction}": instr if instruction else "",
    }
    for key, value in fill.items():
        query = query.replace(key, value)
    return query


def altpo_prompt(
    formatter: Any, question: str, answer: str, instruction: bool = True, prompt: str = "template"
) -> list[int]:
    """The AltPO query ids: ``ou`` = OU's string through ``tokenizer(text)``; ``template`` =
    question + answer (+ instruction) as the user turn of the run's template, then the pre-fill."""
    if prompt == "ou":
        return list(
            formatter.tok(ou_altpo_text(formatter, question, answer, instruction))["input_ids"]
        )
    user = f"Question: {question}\nAnswer: {answer}\n" + (ALTPO_INSTRUCTION if instruction else "")
    ids = formatter.prompt_ids(user)
    return ids + list(formatter.tok(" " + ALTPO_PREFILL, add_special_tokens=False)["input_ids"])


@register
class AltPO(PreferenceMethod):
    name = "altpo"
    description = "DPO with alternate answers generated by the model itself as preferred"
    Params = AltPOParams

    def __init__(self, params: dict[str, Any] | None = None):
        super().__init__(params)
        if self.p.prompt not in PROMPTS:
            raise ObliviateError(
                f"unlearn.params.prompt={self.p.prompt!r}; accepted: {', '.join(PROMPTS)}"
            )
        if self.p.num_alternates < 1 or self.p.temperature < 0:
            raise ObliviateError(
                f"unlearn.params.num_alternates={self.p.num_alternates} (accepted: >= 1), "
                f"temperature={self.p.temperature} (accepted: >= 0, 0 = greedy)"
            )

    @property
    def per_item(self) -> int:
        """Alternates per forget item: ``num_alternates`` sampled, or one greedy."""
        return self.p.num_alternates if self.p.temperature > 0 else 1

    def prompt_kind(self, ctx: Context) -> str:
        """``ou`` or ``template``: ``prompt``, or with ``auto`` the run's ``eval.protocol``
        (``ctx.protocol`` when the context carries it; ``paper`` otherwise)."""
        if self.p.prompt != "auto":
            return self.p.prompt
        return "template" if getattr(ctx, "protocol", "paper") == "fixed" else "ou"

    def build_forget(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        self._records = qa_records(records, self.name)
        # one pair per alternate; the chosen side is filled in by ``prepare``
        return [{"chosen": None, "rejected": formatter.encode_record(r)}
                for r in self._records for _ in range(self.per_item)]  # fmt: skip

    def prepare(self, model: torch.nn.Module, ctx: Context) -> None:
        fmt, n = ctx.formatter, self.per_item
        records = [r for r in self._records for _ in range(n)]
        prompt = self.prompt_kind(ctx)
        prompts = [altpo_prompt(fmt, r.question, r.answer, self.p.instruction, prompt)
                   for r in records]  # fmt: skip
        sampled = self.p.temperature > 0
        sampling = Sampling(self.p.temperature, top_p=1.0, top_k=0, max_tokens=self.p.max_new_tokens,
                            seed=self.p.seed if sampled else None)  # fmt: skip
        backend = HFBackend(model, fmt.tok, batch_size=ctx.batch_size, device=ctx.device)
        texts = [t[0] for t in backend.generate(prompts, sampling)]
        alternates = [ALTPO_STOP.split(t, maxsplit=1)[0].strip() for t in texts]
        same = sum(a.strip().lower() == r.answer.strip().lower()
                   for a, r in zip(alternates, records))  # fmt: skip
        empty = sum(not a for a in alternates)
        if empty == len(alternates):
            raise ObliviateError("altpo: the model generated no alternate answer for any item")
        if same or empty:
            warnings.warn(
                f"altpo: {empty} empty alternates and {same} identical to the original answer "
                f"out of {len(alternates)}",
                stacklevel=2,
            )
        self.alternates = alternates
        for i, (rec, alt) in enumerate(zip(records, alternates)):
            ctx.forget[i] = {**ctx.forget[i], "chosen": fmt.encode_pair(rec.question, alt)}
        super().prepare(model, ctx)
