"""A discoverable config: every key with its type, default and doc line (``obliviate config
--keys``), and the plan of a run without running it (``--dry-run``).

A key's doc line is the comment its component wrote beside the field (``lr: float = 1e-3  #
...``) or on the lines just above it, read from the section dataclass's source.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from dataclasses import dataclass
from typing import Any

from .config import section_class, section_names, section_parts

# doc lines of keys whose dataclass field carries no comment (by full key, then by the key's
# last part: the training keys finetune.* / unlearn.* share them)
DOCS = {
    "run.out_dir": "parent directory of the run directories (<out_dir>/<run.name>)",
    "run.seed": "seed of training, sampling and the tiny model's initialisation",
    "benchmark.name": "benchmark to run (`obliviate list benchmarks`)",
    "benchmark.people": "synthkb: people in the generated world",
    "benchmark.holdout_people": "synthkb: people never trained on (holdout / MIA non-members)",
    "benchmark.seed": "synthkb: seed of the generated world",
    "benchmark.forget_fraction": "synthkb: share of the trained people in the forget set",
    "benchmark.forget_names": "synthkb: these people are the forget set (instead of a draw)",
    "benchmark.val_fraction": "synthkb: share of each person's facts held out as *_val sets",
    "model.max_length": "tokens per example (prompt + answer), cut as SPEC F7 says",
    "model.dtype": "weights dtype: float32 | bfloat16 | float16",
    "model.trust_remote_code": "run a hub model's own code (only for models you trust)",
    "unlearn.method": "unlearning method (`obliviate list methods`; its params: unlearn.params)",
    "eval.batch_size": "items per scoring / generation batch",
    "eval.max_new_tokens": "greedy generation length of the QA sets",
    "eval.kfr_krr.nli_model": "KFR/KRR NLI judge (hub id or local path)",
    "eval.kfr_krr.embedding_model": "KFR/KRR sentence-embedding judge (hub id or local path)",
    "eval.kfr_krr.theta_1": "KFR threshold on the entity / NLI score (ReLearn)",
    "eval.kfr_krr.theta_2": "KRR threshold on the entity / NLI score (ReLearn)",
    "eval.lm_eval.batch_size": "lm-eval batch size",
    "generate.seed": "sampling seed of generated data",
    "generate.max_retries": "retries of a failed HTTP request",
    "generate.memo_max_new_tokens": "MEOW MEMO: continuation length",
    "eval.models": "the models evaluated: target | retain | unlearned",
    "generate.top_p": "nucleus sampling (None: each pipeline's SPEC default)",
    "generate.top_k": "top-k sampling (None: each pipeline's SPEC default)",
    "generate.max_tokens": "tokens per generated answer (None: each pipeline's SPEC default)",
    "lora_alpha": "LoRA alpha (None: the lora_preset's value)",
    "lora_dropout": "LoRA dropout (None: the lora_preset's value)",
    "epochs": "passes over the training set (max_steps > 0 overrides)",
    "lr": "peak learning rate (AdamW)",
    "batch_size": "examples per micro-batch and device",
    "grad_accum": "micro-batches per optimizer step",
    "weight_decay": "AdamW weight decay (not on biases and norms)",
    "warmup_ratio": "share of the steps spent warming the learning rate up",
    "max_grad_norm": "gradient clipping norm (<= 0: none)",
    "region_file": "scope=region: parameter names / regexes (JSON list, localize output, text)",
    "log_every": "optimizer steps per logs/<stage>.jsonl entry",
}


@dataclass(frozen=True)
class KeyInfo:
    key: str
    type: str
    default: Any
    doc: str


def _comments(cls: type) -> dict[str, str]:
    """Field name -> its trailing comment, else the comment block right above it."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    above: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# ").strip())
            continue
        m = re.match(r"\s+(\w+)\s*:\s*[^=]+?(?:=\s*(.*?))?$", line)
        if m and not stripped.startswith(("def ", "@", "class ")):
            trailing = line.split("  # ", 1)[1].strip() if "  # " in line else ""
            out.setdefault(m.group(1), trailing or " ".join(above))
        above = []
    return out


def _type_name(tp: Any) -> str:
    text = tp if isinstance(tp, str) else getattr(tp, "__name__", str(tp))
    return str(text).replace("typing.", "")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _keys_of(cls: type, prefix: str, parts: list[type]) -> list[KeyInfo]:
    docs: dict[str, str] = {}
    for part in [*parts, cls]:
        for base in reversed(part.__mro__):
            if dataclasses.is_dataclass(base):
                for k, v in _comments(base).items():
                    if v or k not in docs:
                        docs[k] = v
    out = []
    for f in dataclasses.fields(cls):
        value = _default(f)
        if dataclasses.is_dataclass(value):
            out += _keys_of(type(value), f"{prefix}{f.name}.", [type(value)])
            continue
        key = f"{prefix}{f.name}"
        doc = docs.get(f.name) or DOCS.get(key) or DOCS.get(f.name, "")
        out.append(KeyInfo(key, _type_name(f.type), value, doc))
    return out


def all_keys() -> list[KeyInfo]:
    """Every config key of every registered section, in ``config.yaml`` order."""
    out: list[KeyInfo] = []
    for name in section_names():
        out += _keys_of(section_class(name), f"{name}.", section_parts(name))
    return out


def render_keys(prefix: str = "") -> str:
    """One line per key: ``key  type  default  doc`` (keys starting with ``prefix``)."""
    rows = [k for k in all_keys() if k.key.startswith(prefix)]
    if not rows:
        from .errors import ObliviateError

        sections = sorted({k.key.split(".")[0] for k in all_keys()})
        raise ObliviateError(f"config --section {prefix.rstrip('.')!r} is unknown; accepted: "
                             f"{', '.join(sections)}")  # fmt: skip
    width = max((len(k.key) for k in rows), default=10)
    return "\n".join(f"{k.key:{width}s}  {k.type:14s}  {k.default!r:14s}  {k.doc}".rstrip()
                     for k in rows)  # fmt: skip


# ---- the plan of a run (--dry-run)


def _dry_run_dir(cfg: Any):
    from .run_dir import RunDir

    class DryRunDir(RunDir):
        """A RunDir that writes nothing: no directory, no lock, no config.yaml."""

        def _open(self) -> None:
            pass

    return DryRunDir(cfg)


def plan(cfg: Any, command: str = "run") -> str:
    """What ``obliviate <command>`` would do with ``cfg``: each stage run or reused, the models,
    the eval sets, optimizer steps and an upper bound of forward passes and generated tokens
    (training: one forward per micro-batch of each stream; eval: one scoring pass per set and
    model in ``eval.batch_size`` batches, plus greedy generation of ``eval.max_new_tokens``)."""
    from .methods import get_method_class
    from .train_steps import plan_steps

    rd = _dry_run_dir(cfg)
    data = rd.data.get()
    ucfg, fcfg, ecfg = cfg.unlearn, cfg.finetune, cfg.eval
    method = get_method_class(ucfg.method)
    lines = [f"plan of `obliviate {command}` (dry run: nothing is written)",
             f"run directory: {rd.dir}", f"benchmark: {cfg.benchmark.name}; model: "
             f"{cfg.model.name_or_path}; method: {ucfg.method}, scope {ucfg.scope}"]  # fmt: skip

    def status(stage: str, fp_fn) -> str:
        try:
            return "reuse" if rd.finished(stage, fp_fn()) else "run"
        except Exception:  # a fingerprint that needs an earlier stage's output
            return "run"

    stages: list[tuple[str, str, str]] = []
    if command in ("run", "finetune", "unlearn", "eval"):
        stages.append(("finetune_target", status("finetune_target", lambda: rd.fp_finetune("target")),
                       f"{len(data.finetune)} records"))  # fmt: skip
        if fcfg.retain_model:
            stages.append(("finetune_retain", status("finetune_retain",
                                                     lambda: rd.fp_finetune("retain")),
                           f"{len(data.finetune_retain)} records"))  # fmt: skip
    if command in ("run", "unlearn", "eval"):
        if method.needs_generated:
            stages.append((f"generate {method.needs_generated}", "run or reuse", "generated/"))
        if method.needs_region:
            stages.append(("localize", status("localize", rd.fp_localize), "region.json"))
        stages.append(("unlearn", status("unlearn", rd.fp_unlearn),
                       f"forget {len(data.forget)}, retain {len(data.retain)} records"))  # fmt: skip
    from .benchmarks import BENCHMARKS
    from .eval.suites import get_suite

    sets = list(ecfg.sets) or list(get_suite(BENCHMARKS[cfg.benchmark.name].suite).default_sets)
    sets = sorted(data.eval_sets) if "all" in sets else [s for s in sets if s in data.eval_sets]
    if command in ("run", "eval"):
        for role in ecfg.models:
            stages.append((f"eval_{role}", status(f"eval_{role}", lambda r=role: rd.fp_eval(r)),
                           f"{len(sets)} sets"))  # fmt: skip
    if command in ("run", "eval"):
        lines.append(f"models evaluated: {', '.join(ecfg.models)}; sets: {', '.join(sets)}")
    lines.append("stages:")
    lines += [f"  {name:18s} {st:6s} {what}" for name, st, what in stages]
    passes = tokens = 0
    for name, st, _ in stages:
        if st == "reuse":
            continue
        if name.startswith("finetune_"):
            n = len(data.finetune if name.endswith("target") else data.finetune_retain)
            p = plan_steps(n, fcfg.batch_size, 1, fcfg.grad_accum, fcfg.epochs, fcfg.max_steps)
            passes += p.total * fcfg.grad_accum
            lines.append(f"  {name}: {p.total} optimizer steps")
        elif name == "unlearn":
            p = plan_steps(len(data.forget), ucfg.batch_size, 1, ucfg.grad_accum, ucfg.epochs,
                           ucfg.max_steps)  # fmt: skip
            passes += p.total * ucfg.grad_accum * (2 if data.retain else 1)
            lines.append(f"  unlearn: {p.total} optimizer steps")
        elif name.startswith("eval_"):
            for s in sets:
                n = len(data.eval_sets[s].records)
                passes += math.ceil(n / ecfg.batch_size)
                tokens += n * ecfg.max_new_tokens
    lines.append(f"estimate: about {passes} batched forward passes (training + scoring) and at "
                 f"most {tokens} generated tokens (greedy, eval.max_new_tokens="
                 f"{ecfg.max_new_tokens}) for the stages marked run")  # fmt: skip
    return "\n".join(lines)
