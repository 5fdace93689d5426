"""SatImp: saturation and importance weighted ascent (Yang et al. 2025, "Exploring Criteria of
Loss Reweighting to Enhance LLM Unlearning", ICML; OU ``SatImp``), SPEC 3.2.

L_f = −mean_{t∈M} sg(p_t^β1 · (1 − p_t)^β2)·ℓ_t over labelled forget positions
(``losses.weighted_ascent_loss``); L = γ·L_f + α·L_r. One documented default, OU's trainer cfg:
β1 = 5, β2 = 1, γ = 0.1, α = 1.0, retain NLL, lr 1e-5, 5 epochs (OU's README and class say
γ = 1, α = 0.1: SPEC 8 item 9). No reference (OU builds an unused copy).
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import register
from .retain import RetainParams
from .wga import _WeightedAscent


@dataclass
class SatImpParams(RetainParams):
    RANGES = {
        "beta1": ">= 0",
        "beta2": ">= 0",
    }  # not a field: value ranges checked at config load (obliviate.checks)
    gamma: float = 0.1
    beta1: float = 5.0
    beta2: float = 1.0


@register
class SatImp(_WeightedAscent):
    name = "satimp"
    description = (
        "ascent weighted by sg(p_t^beta1 (1-p_t)^beta2) per token (saturation x importance)"
    )
    Params = SatImpParams

    def exponents(self) -> tuple[float, float]:
        return self.p.beta1, self.p.beta2
