"""The ``generate`` config section: data generation (SPEC 5) backends and sampling."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import section, validator
from ..errors import ObliviateError
from ..eval.memo import PROMPTS
from .store import BACKENDS


@section("generate")
@dataclass
class GenerateConfig:
    """Data generation (SPEC 5): ReLearn augmentation, MEOW inversion, RWKU corpora."""

    backend: str = "offline"  # offline (synthkb templates) | hf | vllm | openai
    model: str = ""  # hf/vllm: hub id, path or run role (target, retain, base; "" = target); openai: model name
    base_url: str = ""  # openai: endpoint root, e.g. http://127.0.0.1:8000/v1
    api_key_env: str = ""  # openai: NAME of the environment variable holding the API key
    temperature: float | None = None  # None: each pipeline's SPEC default
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    seed: int = 0
    batch_size: int = 16  # items per resumable chunk; prompts per local generation batch
    workers: int = 8  # concurrent HTTP requests
    max_retries: int = 4
    retry_backoff: float = 1.0  # seconds, doubled after each retry
    timeout: float = 120.0  # seconds per HTTP request
    cache_dir: str = ""  # "": <run.out_dir>/.generate_cache; "none": no cache
    resume: bool = True  # continue an interrupted generation from its finished items
    check_rounds: int = 3  # ReLearn: regeneration rounds for answers that fail the leakage check
    candidates: int = 4  # MEOW: inverted answers per question
    memo_stride: int = 5  # MEOW MEMO: characters between prompts (suffix mode)
    memo_max_new_tokens: int = 200
    memo_prompt: str = "template"  # template (the run's prompt family, SPEC F6) | raw (MEOW)
    corpus_pairs: int = 30  # RWKU corpora: biography pairs per target (RWKU ships 582)
    corpus_questions: int = 300  # RWKU corpora: refusal questions per target
    # RWKU corpora: subject -> intro; empty: the forget subjects
    targets: dict[str, str] = field(default_factory=dict)
    # RWKU corpora: subject -> intro of people NOT to forget; their biographies by the same model
    # go to train_retain.jsonl, the retain corpus read with benchmark.retain=generated
    retain_targets: dict[str, str] = field(default_factory=dict)
    retain_pairs: int = 4  # RWKU corpora: biographies per retain target
    # RWKU corpora: questions about people NOT to forget; the model's greedy answers go to
    # train_retain.jsonl as question/answer rows (what it must keep answering)
    retain_questions: list[str] = field(default_factory=list)
    # RWKU corpora: forget subject -> questions about it that are NOT probes; the model's greedy
    # answers go to train_positive.jsonl as question/answer rows (a target-specific forget text
    # in the model's own words; obliviate's addition, RWKU's positive corpus is biographies only)
    forget_questions: dict[str, list[str]] = field(default_factory=dict)
    # RWKU corpora to write (fake biographies are generated for negative / pair only,
    # questions for refusal only)
    corpora: list[str] = field(default_factory=lambda: ["positive", "negative", "pair", "refusal"])


@validator
def validate_generate(cfg: Any) -> None:
    """Check the ``generate`` section, naming the key and the accepted values."""
    g = cfg.generate
    if g.backend not in BACKENDS:
        raise ObliviateError(
            f"generate.backend={g.backend!r} is unknown; accepted: {', '.join(BACKENDS)}"
        )
    if g.backend == "openai" and not (g.base_url and g.model):
        raise ObliviateError(
            "generate.backend=openai needs generate.base_url (e.g. https://api.openai.com/v1) "
            "and generate.model"
        )
    if g.memo_prompt not in PROMPTS:
        raise ObliviateError(
            f"generate.memo_prompt={g.memo_prompt!r}; accepted: {', '.join(PROMPTS)}"
        )
    for key in ("batch_size", "workers", "check_rounds", "candidates", "memo_stride",
                "memo_max_new_tokens", "corpus_pairs", "corpus_questions", "retain_pairs"):  # fmt: skip
        if getattr(g, key) < 1:
            raise ObliviateError(f"generate.{key}={getattr(g, key)}; accepted: an integer >= 1")
    from .rwku import CORPUS_KINDS

    unknown = [c for c in g.corpora if c not in CORPUS_KINDS]
    if unknown or not g.corpora:
        raise ObliviateError(
            f"generate.corpora={list(g.corpora)}: {unknown or 'empty'}; accepted: a non-empty "
            f"list of {', '.join(CORPUS_KINDS)}"
        )
    overlap = set(g.retain_targets) & set(g.targets)
    if overlap:
        raise ObliviateError(
            f"generate.retain_targets and generate.targets share {sorted(overlap)}; a subject is "
            "either forgotten or retained"
        )
    if g.forget_questions and "positive" not in g.corpora:
        raise ObliviateError(
            "generate.forget_questions are written to train_positive.jsonl: add positive to "
            f"generate.corpora (now {list(g.corpora)})"
        )
    kept = sorted(set(g.forget_questions) & set(g.retain_targets))
    if kept:
        raise ObliviateError(
            f"generate.forget_questions and generate.retain_targets share {kept}; a subject is "
            "either forgotten or retained"
        )
    if g.max_retries < 0:
        raise ObliviateError(f"generate.max_retries={g.max_retries}; accepted: >= 0")
