"""DPO with a preferred answer (Rafailov et al. 2023, as an unlearning baseline in TOFU, Maini et
al. 2024), SPEC 3.2. The loss, the cached reference log-probs and L = γ·L_f + α·L_r are
:class:`~obliviate.methods.preference.PreferenceMethod`'s.

y_l = the forget answer; y_w chosen by ``preferred``:
``idk``: an "I don't know" line (``obliviate.refusals``), one per item drawn with a seeded generator
(OU draws anew at every fetch; one fixed draw is what lets the reference be cached);
``counterfactual``: the benchmark's pairs when it has them (RWKU ``train_pair``: the loader puts
``QAItem(question=prompt, answer=real bio, meta={"preferred": fabricated bio})`` in
``data.extras["pairs"]``), else a seeded pick among the item's perturbed answers (TOFU,
synthkb: same question, plausible wrong facts). OU cfg β = 0.1, γ = α = 1, retain NLL, c = 2/β;
RWKU β = 0.1, c = 1 (``two_over_beta=false``), no retain term.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..errors import ObliviateError
from ..refusals import sample_idk
from .base import register
from .preference import PreferenceMethod, PreferenceParams, qa_records

PREFERRED = ("idk", "counterfactual")


@dataclass
class DPOParams(PreferenceParams):
    preferred: str = "idk"
    seed: int = 42


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
        records = qa_records(records, self.name)
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
