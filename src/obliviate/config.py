"""Typed config schema, YAML loading, dotted ``key=value`` overrides and validation.

A config is a YAML file merged onto the structured schema below, then ``key=value`` overrides
from the command line. Unknown keys, wrong types and unknown names (method, benchmark, model
preset, scope) raise :class:`ObliviateError` naming the key and the accepted values.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from .errors import ObliviateError, did_you_mean


@dataclass
class RunConfig:
    name: str = ""  # empty: derived as <benchmark>_<method>
    out_dir: str = "runs"
    seed: int = 0
    reuse: bool = True  # reuse a finished stage whose config is unchanged
    base_run: str = ""  # take the base/target/retain models (and their eval) from this run dir


@dataclass
class BenchmarkConfig:
    name: str = "synthkb"
    path: str = ""  # local copy instead of the hub
    people: int = 40
    holdout_people: int = 4
    seed: int = 0
    forget_fraction: float = 0.1
    forget_names: list[str] = field(default_factory=list)
    val_fraction: float = 0.2
    split: str = ""  # TOFU forget split: forget01 | forget05 | forget10 (default forget10)
    domain: str = ""  # KnowUnDo domain: copyright | privacy (default privacy)
    targets: str = "1"  # RWKU targets: "3", "1-10" (inclusive) or "1,4,7"
    corpus: str = "positive"  # RWKU forget corpus: positive | passage | pair | refusal
    corpus_model: str = "llama3"  # RWKU corpus generator: llama3 | phi3
    # RWKU: directory of generated corpora (`obliviate corpus` writes
    # <run>/generated/rwku_corpus/train_<corpus>.jsonl); "" = the hub corpus
    corpus_dir: str = ""
    general: str = ""  # general QA for data.general: "" = the benchmark's own | wiki_qa
    general_path: str = ""  # local copy of the general set in the hub layout ("" = the hub)


@dataclass
class ModelConfig:
    name_or_path: str = "tiny"  # hub id, local path, or "tiny"
    tiny_preset: str = "tiny"  # size preset when name_or_path == "tiny"
    tokenizer_vocab: int = 2048  # BPE vocabulary of the tiny model's tokenizer
    template: str = "qa-tags"  # prompt family (formatting.TEMPLATES) or "chat"
    max_length: int = 128
    dtype: str = "float32"
    trust_remote_code: bool = False


@dataclass
class TrainConfig:
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    lr: float = 1e-3
    batch_size: int = 8
    grad_accum: int = 1
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    scheduler: str = "constant"  # constant | linear | cosine
    max_grad_norm: float = 1.0
    scope: str = "full"  # full | lora | layers | region (models.scope)
    layers: str = ""  # "a-b", end exclusive (RWKU train_layers)
    lora_preset: str = "relearn"  # rwku | knowundo | relearn (models.scope.LORA_PRESETS)
    lora_r: int | None = None  # None: the preset's value (same for alpha, dropout, targets)
    lora_alpha: float | None = None
    lora_dropout: float | None = None
    lora_targets: list[str] = field(default_factory=list)  # module names, or ["all-linear"]
    region_file: str = (
        ""  # scope=region: parameter names / regexes (JSON list, localize output, text)
    )
    merge: bool = True  # LoRA: also write the merged model (else models/<role> is the adapter)
    log_every: int = 10


@dataclass
class FinetuneConfig(TrainConfig):
    epochs: float = 20.0
    lr: float = 3e-3
    batch_size: int = 16
    warmup_ratio: float = 0.05
    scheduler: str = "cosine"
    enabled: bool = True  # False: the loaded model is already the target (e.g. RWKU, OU models)
    retain_model: bool = True  # also train the retain-only ("gold") model


@dataclass
class UnlearnConfig(TrainConfig):
    method: str = "npo"
    params: dict[str, Any] = field(default_factory=dict)  # method parameters (see `list methods`)
    epochs: float = 5.0
    lr: float = 1e-3
    batch_size: int = 8


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


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    unlearn: UnlearnConfig = field(default_factory=UnlearnConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)


def _schema() -> DictConfig:
    return OmegaConf.structured(Config)


def _accepted_keys(schema: DictConfig, dotted: str) -> list[str]:
    node: Any = schema
    parts = dotted.split(".")[:-1]
    for part in parts:
        if not isinstance(node, DictConfig) or part not in node:
            break
        node = node[part]
    prefix = ".".join(parts)
    if isinstance(node, DictConfig):
        return [f"{prefix}.{k}" if prefix else str(k) for k in node]
    return []


def _merge(base: DictConfig, other: Any, source: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, other)  # type: ignore[return-value]
    except ConfigKeyError as exc:
        key = str(exc.full_key) if getattr(exc, "full_key", None) else str(exc)
        accepted = _accepted_keys(base, key)
        raise ObliviateError(
            f"{source}: unknown config key {key!r}; {did_you_mean(key, accepted)}"
        ) from None
    except ValidationError as exc:
        key = getattr(exc, "full_key", "?")
        raise ObliviateError(
            f"{source}: wrong type for config key {key!r}: {exc.msg.splitlines()[0]}"
        ) from None
    except OmegaConfBaseException as exc:
        raise ObliviateError(f"{source}: {str(exc).splitlines()[0]}") from None


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """Turn ``a.b=c`` strings into a nested dict; values are parsed as YAML scalars/lists."""
    nested: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ObliviateError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        if not key:
            raise ObliviateError(f"override {item!r} has an empty key")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ObliviateError(f"override {item!r} conflicts with an earlier override")
        node[parts[-1]] = value
    return nested


def _load_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ObliviateError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ObliviateError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ObliviateError(f"{path}: top level must be a mapping of sections")
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Build a validated config: schema ← YAML file ← overrides, then name checks."""
    cfg = _schema()
    if path is not None:
        cfg = _merge(cfg, _load_yaml(Path(path)), str(path))
    if overrides:
        cfg = _merge(cfg, parse_overrides(overrides), "command line")
    obj: Config = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    validate(obj)
    return obj


def validate(cfg: Config) -> None:
    """Check names against registries; raise ObliviateError naming the key and accepted values."""
    from .benchmarks import BENCHMARKS
    from .methods import get_method_class
    from .models.tiny import TINY_PRESETS

    if cfg.benchmark.name not in BENCHMARKS:
        raise ObliviateError(
            f"benchmark.name={cfg.benchmark.name!r} is unknown; "
            f"{did_you_mean(cfg.benchmark.name, list(BENCHMARKS))}"
        )
    method_cls = get_method_class(cfg.unlearn.method)  # raises on unknown names
    method_cls.validate_params(cfg.unlearn.params)
    if cfg.model.name_or_path == "tiny" and cfg.model.tiny_preset not in TINY_PRESETS:
        raise ObliviateError(
            f"model.tiny_preset={cfg.model.tiny_preset!r} is unknown; "
            f"{did_you_mean(cfg.model.tiny_preset, list(TINY_PRESETS))}"
        )
    for section in ("finetune", "unlearn"):
        tc: TrainConfig = getattr(cfg, section)
        from .models.scope import validate_scope

        validate_scope(tc, section)
        if tc.scheduler not in ("constant", "linear", "cosine"):
            raise ObliviateError(
                f"{section}.scheduler={tc.scheduler!r} is unknown; accepted: constant, cosine, linear"
            )
        if tc.batch_size < 1 or tc.grad_accum < 1:
            raise ObliviateError(f"{section}.batch_size and {section}.grad_accum must be >= 1")
    _validate_eval(cfg.eval)
    from .formatting import TEMPLATES

    if cfg.model.template not in (*TEMPLATES, "chat"):
        raise ObliviateError(
            f"model.template={cfg.model.template!r} is unknown; "
            f"{did_you_mean(cfg.model.template, [*TEMPLATES, 'chat'])}"
        )
    from .generate.store import validate_generate

    validate_generate(cfg.generate)


def _validate_eval(ec: EvalConfig) -> None:
    from .eval.generation import GENERATION_BACKENDS
    from .eval.suites.plan import check_metric_names

    check_metric_names(ec.metrics)
    if not 0.0 < ec.min_k <= 1.0:
        raise ObliviateError(f"eval.min_k={ec.min_k} must lie in (0, 1]")
    if ec.backend not in GENERATION_BACKENDS:
        raise ObliviateError(
            f"eval.backend={ec.backend!r} is unknown; accepted: {', '.join(GENERATION_BACKENDS)}"
        )
    if ec.meow_prompt not in ("template", "raw"):
        raise ObliviateError(f"eval.meow_prompt={ec.meow_prompt!r}; accepted: raw, template")


def to_dict(cfg: Config) -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)  # type: ignore[return-value]


def to_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def fingerprint(*parts: Any) -> str:
    """Stable hash of JSON-serialisable parts (decides whether a finished stage is reused)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
