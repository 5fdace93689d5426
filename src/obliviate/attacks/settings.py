"""The ``attack`` config section (robustness attacks on an unlearned model) and ``eval.attacks``.

``obliviate attack [CONFIG] attack.kinds=[relearn,quantize,prompt,latent]`` runs the named
attacks on a finished run; ``eval.attacks=[...]`` runs them at the end of ``obliviate run``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import section, validator
from ..errors import ObliviateError, did_you_mean

KINDS = ("relearn", "quantize", "prompt", "latent")
RELEARN_DATA = ("forget_subset", "related", "unrelated")
QUANT_SCHEMES = ("rtn8", "rtn4", "bnb_int8", "bnb_nf4")
PROMPT_KINDS = ("paraphrase", "affirmative", "role_play", "reverse", "few_shot")


@dataclass
class RelearnAttack:
    """Relearning (Hu et al. 2024, arXiv 2406.13356): a few fine-tuning steps on ``data``
    (``forget_subset``: ``fraction`` of the forget set; ``related``: other text about the same
    targets; ``unrelated``: as many retain/general records), then the held-out forget items."""

    data: str = "forget_subset"  # forget_subset | related | unrelated: what relearning trains on
    # forget_subset: the share of the forget set relearned (held out of eval)
    fraction: float = 0.25
    steps: int = 20  # relearning optimizer steps
    lr: float = 1e-3
    batch_size: int = 4
    scope: str = "full"  # full | lora | layers (the training scopes, models.scope)
    layers: str = ""  # scope=layers: the block range "a-b" (end exclusive)
    lora_preset: str = "relearn"  # scope=lora: the LoRA preset (models.scope)
    seed: int = 0  # relearning data draw and training order


@dataclass
class QuantizeAttack:
    """Weight quantisation (Zhang et al. 2024, arXiv 2410.16454): round-to-nearest per group
    (``rtn8`` / ``rtn4``, any device) or bitsandbytes (``bnb_int8`` / ``bnb_nf4``, CUDA only)."""

    # rtn8 | rtn4 | bnb_int8 | bnb_nf4
    schemes: list[str] = field(default_factory=lambda: ["rtn8", "rtn4"])
    group_size: int = 128  # input columns per scale/zero point; <= 0: one group per row
    lm_head: bool = False  # also quantise the output layer (tied embeddings: never)


@dataclass
class PromptAttack:
    """Prompt attacks on the forget QA items: only the prompt changes, never the answer."""

    # paraphrase | affirmative | role_play | reverse | few_shot
    kinds: list[str] = field(default_factory=lambda: list(PROMPT_KINDS))
    prefix: str = "Sure, here is the answer:"  # the affirmative start of the reply
    shots: int = 3  # few_shot: QA pairs about other (non-forget) people before the question


@dataclass
class LatentAttack:
    """Logit lens (Lynch et al. 2024, arXiv 2402.16835): per layer, the gold answer's first
    token's rank and log-prob under final norm + lm_head of that layer's hidden state."""

    top_k: int = 10  # hit@k beside the rank and log-prob


@section("attack")
@dataclass
class AttackConfig:
    # relearn | quantize | prompt | latent
    kinds: list[str] = field(default_factory=lambda: list(KINDS))
    # the forget-side eval sets and the forget metric; empty: the benchmark's (attacks.score)
    sets: list[str] = field(default_factory=list)
    metric: str = ""  # the forget metric of the recovery score; "": the benchmark's
    # the attacked roles
    models: list[str] = field(default_factory=lambda: ["target", "retain", "unlearned"])
    relearn: RelearnAttack = field(default_factory=RelearnAttack)
    quantize: QuantizeAttack = field(default_factory=QuantizeAttack)
    prompt: PromptAttack = field(default_factory=PromptAttack)
    latent: LatentAttack = field(default_factory=LatentAttack)


def _names(key: str, given: list[str], accepted: tuple[str, ...]) -> None:
    for name in given:
        if name not in accepted:
            raise ObliviateError(f"{key}: {name!r} is unknown; {did_you_mean(name, accepted)}")


@validator
def _check_attack(cfg: Any) -> None:
    a = cfg.attack
    _names("attack.kinds", list(a.kinds), KINDS)
    _names("eval.attacks", list(cfg.eval.attacks), KINDS)
    _names("attack.quantize.schemes", list(a.quantize.schemes), QUANT_SCHEMES)
    _names("attack.prompt.kinds", list(a.prompt.kinds), PROMPT_KINDS)
    _names("attack.models", list(a.models), ("target", "retain", "unlearned"))
    r = a.relearn
    if r.data not in RELEARN_DATA:
        raise ObliviateError(
            f"attack.relearn.data={r.data!r} is unknown; {did_you_mean(r.data, RELEARN_DATA)}"
        )
    if not 0.0 < r.fraction < 1.0:
        raise ObliviateError(
            f"attack.relearn.fraction={r.fraction}; accepted: 0 < fraction < 1 (the rest of the "
            "forget set is evaluated)"
        )
    for key, value in (("steps", r.steps), ("batch_size", r.batch_size)):
        if value < 1:
            raise ObliviateError(f"attack.relearn.{key}={value}; accepted: an integer >= 1")
    if r.lr <= 0:
        raise ObliviateError(f"attack.relearn.lr={r.lr}; accepted: lr > 0")
    if r.scope not in ("full", "lora", "layers"):
        raise ObliviateError(
            f"attack.relearn.scope={r.scope!r} is unknown; accepted: full, lora, layers"
        )
    if a.prompt.shots < 1:
        raise ObliviateError(f"attack.prompt.shots={a.prompt.shots}; accepted: >= 1")
    if a.latent.top_k < 1:
        raise ObliviateError(f"attack.latent.top_k={a.latent.top_k}; accepted: >= 1")
