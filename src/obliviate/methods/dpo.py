"""Preference-based unlearning: DPO with a preferred answer, and AltPO (SPEC 3.2, 5.4).

L_f = −c·mean_i logσ(β·[(logπ_θ − logπ_ref)(y_w,i) − (logπ_θ − logπ_ref)(y_l,i)]) with
sequence-sum log-probs (``losses.dpo_loss``); c = 2/β as in OU's ``DPO``/``IdkDPO`` (default) or
c = 1, the standard TRL sigmoid loss RWKU uses (``two_over_beta=false``). L = γ·L_f + α·L_r.
The reference log-probs of every chosen and rejected answer are computed once in ``prepare``
with the starting model and cached: no model copy is held (unless ``retain_loss=kl``).

- ``dpo`` (Rafailov et al. 2023, as an unlearning baseline in TOFU, Maini et al. 2024):
  y_l = the forget answer; y_w chosen by ``preferred``:
  ``idk``: an "I don't know" line (``methods.idk``), one per item drawn with a seeded generator
  (OU draws anew at every fetch; one fixed draw is what lets the reference be cached);
  ``counterfactual``: the benchmark's pairs when it has them (RWKU ``train_pair``: the loader puts
  ``QAItem(question=prompt, answer=real bio, meta={"preferred": fabricated bio})`` in
  ``data.extras["pairs"]``), else a seeded pick among the item's perturbed answers (TOFU,
  synthkb: same question, plausible wrong facts). OU cfg β = 0.1, γ = α = 1, retain NLL; RWKU
  β = 0.1, c = 1, no retain term.
- ``altpo`` (Mekala et al. 2024, "Alternate Preference Optimization"; OU community AltPO):
  y_w = an alternate answer the model itself generates in ``prepare`` from OU's Llama-3 prompt
  (question + original answer + the instruction below, assistant turn pre-filled with
  "Alternate Answer :"): ``num_alternates`` samples per item at ``temperature`` (SPEC 5.4:
  5 at T = 1, 200 new tokens; seeded; ``temperature=0`` is one greedy alternate), cut at
  "Question:"/"Q:", each its own (alternate ≻ original) pair, as the reference dataset has one
  row per alternate (molereddy/Alternate-Preference-Optimization, ``TextForgetDatasetSubFullQA``).
  ``instruction=false``
  drops the instruction (a model that follows no instructions, or a ``max_length`` too short for
  it: prompts are cut from the left, which would cut the question and answer first).
"""

from __future__ import annotations

import random
import re
import warnings
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ObliviateError
from ..eval.generation import generate
from ..records import QAItem
from .base import Context, Method, forward_logits, reference_nll_sums, register
from .idk import sample_idk
from .losses import dpo_loss, reduce_nll, token_nll
from .retain import combine, retain_loss

PREFERRED = ("idk", "counterfactual")
ALTPO_INSTRUCTION = (
    "Now pretend you are making things up. Write another answer to the question that is of a "
    "different template than the given answer and changes all facts from what are introduced "
    "in the given answer (changed answers must be plausible while being inconsistent with given "
    "answer). Ensure that your alternate answer is a plausible response to the question and "
    "doesn't change any details mentioned in question and only introduces changes to all the "
    "facts introduced answer."
)
ALTPO_PREFILL = "Alternate Answer :"
ALTPO_STOP = re.compile(r"\b(Question:|Q:)")


def _qa_records(records: list[Any], method: str) -> list[QAItem]:
    bad = [type(r).__name__ for r in records if not isinstance(r, QAItem)]
    if bad:
        raise ObliviateError(
            f"method {method!r} needs question/answer forget records; the benchmark gives "
            f"{bad[0]} records (use its pair data, e.g. RWKU train_pair, or another method)"
        )
    return records


def seq_nll_sum(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sequence-sum NLL of each example in a collated batch."""
    nll, mask = token_nll(forward_logits(model, batch), batch["labels"])
    return reduce_nll(nll, mask, "seq_sum")


@dataclass
class DPOParams:
    beta: float = 0.1
    gamma: float = 1.0
    alpha: float = 1.0
    retain_loss: str = "nll"
    preferred: str = "idk"
    two_over_beta: bool = True
    seed: int = 42


class PreferenceMethod(Method):
    """Shared machinery: pairs {"chosen", "rejected"}, cached reference NLLs, the loss."""

    def needs_reference_model(self) -> bool:
        return self.p.retain_loss == "kl"

    def prepare(self, model: torch.nn.Module, ctx: Context) -> None:
        """Cache NLL_sum of every chosen and rejected answer under the starting model."""
        for key in ("chosen", "rejected"):
            examples = [ex[key] for ex in ctx.forget]
            ctx.ref_cache[f"{key}_nll_sum"] = reference_nll_sums(model, examples, ctx)

    def loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        fb = batch["forget"]
        idx = fb["index"]
        nll_w, nll_l = seq_nll_sum(model, fb["chosen"]), seq_nll_sum(model, fb["rejected"])
        ref_w = ctx.ref_cache["chosen_nll_sum"].to(nll_w.device)[idx]
        ref_l = ctx.ref_cache["rejected_nll_sum"].to(nll_w.device)[idx]
        forget = dpo_loss(nll_w, nll_l, ref_w, ref_l, self.p.beta, self.p.two_over_beta)
        total, parts = combine(
            forget, retain_loss(self.p.retain_loss, model, batch, ctx), self.p.gamma, self.p.alpha
        )
        parts["chosen_logratio"] = float((ref_w - nll_w).detach().mean())
        parts["rejected_logratio"] = float((ref_l - nll_l).detach().mean())
        return total, parts


@register
class DPO(PreferenceMethod):
    name = "dpo"
    description = "DPO: preferred = IdK line or counterfactual answer, rejected = forget answer"
    Params = DPOParams

    def __init__(self, params: dict[str, Any] | None = None):
        super().__init__(params)
        if self.p.preferred not in PREFERRED:
            raise ObliviateError(
                f"unlearn.params.preferred={self.p.preferred!r}; accepted: {', '.join(PREFERRED)}"
            )

    def build_forget(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        pairs = (getattr(data, "extras", None) or {}).get("pairs")
        if self.p.preferred == "counterfactual" and pairs:
            return [
                {"chosen": formatter.encode_pair(r.question, r.meta["preferred"]),
                 "rejected": formatter.encode_pair(r.question, r.answer)}
                for r in pairs
            ]  # fmt: skip
        records = _qa_records(records, self.name)
        if self.p.preferred == "idk":
            chosen = sample_idk(len(records), self.p.seed)
        else:
            missing = [r.id or r.question for r in records if not r.perturbed_answers]
            if missing:
                raise ObliviateError(
                    f"dpo preferred=counterfactual needs a counterfactual answer per forget item: "
                    f"the benchmark has no pair data (extras['pairs']) and item {missing[0]!r} has "
                    "no perturbed answers; use preferred=idk"
                )
            rng = random.Random(self.p.seed)
            chosen = [rng.choice(r.perturbed_answers) for r in records]
        return [
            {"chosen": formatter.encode_pair(r.question, w), "rejected": formatter.encode_record(r)}
            for r, w in zip(records, chosen)
        ]


@dataclass
class AltPOParams:
    beta: float = 0.1
    gamma: float = 1.0
    alpha: float = 1.0
    retain_loss: str = "nll"
    two_over_beta: bool = True
    max_new_tokens: int = 200
    instruction: bool = True
    num_alternates: int = 5
    temperature: float = 1.0  # 0: greedy (then one alternate per item)
    seed: int = 42


def altpo_prompt(formatter: Any, question: str, answer: str, instruction: bool = True) -> list[int]:
    """OU's AltPO query: question + answer (+ instruction) as the user turn, then the pre-fill."""
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
        if self.p.num_alternates < 1 or self.p.temperature < 0:
            raise ObliviateError(
                f"unlearn.params.num_alternates={self.p.num_alternates} (accepted: >= 1), "
                f"temperature={self.p.temperature} (accepted: >= 0, 0 = greedy)"
            )

    @property
    def per_item(self) -> int:
        """Alternates per forget item: ``num_alternates`` sampled, or one greedy."""
        return self.p.num_alternates if self.p.temperature > 0 else 1

    def build_forget(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        self._records = _qa_records(records, self.name)
        # one pair per alternate; the chosen side is filled in by ``prepare``
        return [{"chosen": None, "rejected": formatter.encode_record(r)}
                for r in self._records for _ in range(self.per_item)]  # fmt: skip

    def prepare(self, model: torch.nn.Module, ctx: Context) -> None:
        fmt, n = ctx.formatter, self.per_item
        records = [r for r in self._records for _ in range(n)]
        prompts = [altpo_prompt(fmt, r.question, r.answer, self.p.instruction) for r in records]
        sampling = None
        if self.p.temperature > 0:
            torch.manual_seed(self.p.seed)
            sampling = {"do_sample": True, "temperature": self.p.temperature, "top_p": 1.0,
                        "top_k": 0}  # fmt: skip
        texts = generate(model, fmt.tok, prompts, ctx.batch_size, self.p.max_new_tokens,
                         ctx.device, sampling=sampling)  # fmt: skip
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
