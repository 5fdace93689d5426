"""The ``eval`` config section: batch sizes, sets, models, metrics and their judges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import section, validator
from ..errors import ObliviateError
from .generation import GENERATION_BACKENDS
from .suites.plan import check_metric_names


@dataclass
class KFRKRRConfig:
    """ReLearn KFR / KRR judges (SPEC 6.6): hub ids or paths, entity extractor, thresholds."""

    nli_model: str = "sileod/deberta-v3-base-tasksource-nli"
    embedding_model: str = "sentence-transformers/all-MiniLM-L12-v2"
    entity_extractor: str = "regex"  # regex (offline) | llm (the generate backend, ReLearn)
    theta_1: float = 0.3
    theta_2: float = 0.3


@dataclass
class LMEvalConfig:
    """lm-evaluation-harness tasks run on each evaluated model (optional extra ``lmeval``)."""

    tasks: list[str] = field(default_factory=list)  # empty: lm-eval is not run
    include_path: str = ""  # directory of custom task YAMLs
    builtin_tasks: bool = True  # false: index only include_path (skips lm-eval's own tasks)
    num_fewshot: int = -1  # -1: each task's default
    limit: int = 0  # > 0: at most this many documents per task
    batch_size: int = 8


PROTOCOLS = ("paper", "fixed", "ou")


@section("eval")
@dataclass
class EvalConfig:
    batch_size: int = 32
    max_new_tokens: int = 32
    sets: list[str] = field(default_factory=list)  # empty: the suite's default sets
    models: list[str] = field(default_factory=lambda: ["target", "retain", "unlearned"])
    # metric names (`obliviate list metrics`), groups "default" / "all", or "<set>/<name>";
    # empty: the suite's defaults
    metrics: list[str] = field(default_factory=list)
    min_k: float = 0.4  # Min-K% / Min-K%++ ratio k (SPEC 6.4)
    # Reference MIA model: retain (its saved per-item values), or a run role / hub id / path
    mia_reference_model: str = "retain"
    backend: str = "hf"  # generation backend: hf | vllm
    scorer_model: str = "target"  # linguistic-score PPL model: self, a run role, a hub id or path
    meow_prompt: str = "template"  # MA / EL / MEMO prompts: template | raw (MEOW's q + " " + a)
    meow_max_new_tokens: int = 200  # EL / MEMO continuation length (MEOW: 200)
    kfr_krr: KFRKRRConfig = field(default_factory=KFRKRRConfig)
    lm_eval: LMEvalConfig = field(default_factory=LMEvalConfig)
    # forget quality against the retain model's per-item forget truth ratios read from a JSON
    # file (a list, or an open-unlearning eval log) or a run directory, instead of our retain run
    retain_tr_file: str = ""
    # paper: byte-for-byte the reference code's protocol, quirks included (README "Protocols");
    # fixed: obliviate's corrections; ou: TOFU as open-unlearning runs it (template, settings)
    protocol: str = "paper"
    # robustness attacks run after the evaluation (attack.* settings; obliviate.attacks)
    attacks: list[str] = field(default_factory=list)


@validator
def _check_eval(cfg: Any) -> None:
    ec = cfg.eval
    check_metric_names(ec.metrics)
    if not 0.0 < ec.min_k <= 1.0:
        raise ObliviateError(f"eval.min_k={ec.min_k} must lie in (0, 1]")
    if ec.backend not in GENERATION_BACKENDS:
        raise ObliviateError(
            f"eval.backend={ec.backend!r} is unknown; accepted: {', '.join(GENERATION_BACKENDS)}"
        )
    if ec.protocol not in PROTOCOLS:
        raise ObliviateError(
            f"eval.protocol={ec.protocol!r} is unknown; accepted: {', '.join(PROTOCOLS)}"
        )
    if ec.meow_prompt not in ("template", "raw"):
        raise ObliviateError(f"eval.meow_prompt={ec.meow_prompt!r}; accepted: raw, template")
