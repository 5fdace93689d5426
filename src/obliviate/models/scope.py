"""Parameter scopes: which parameters train; everything else stays bit-for-bit unchanged (SPEC 4).

- ``full``: every parameter.
- ``layers a-b``: RWKU ``train_layers``: a parameter trains iff it belongs to block i (named
  ``layers.{i}.``, GPT-2's ``h.{i}.`` or ``blocks.{i}.``) with i in range(a, b), end exclusive
  (``0-4`` trains 0..3); embeddings, final norm, lm_head frozen.
- ``lora``: peft LoRA. On a plain model a *fresh* adapter is attached (ReLearn's r=32 adapter on
  the merged target, RWKU); on a model that already carries an adapter (a target saved with
  ``finetune.merge=false``) that adapter is *continued* (KnowUnDo). Named presets
  (:data:`LORA_PRESETS`, SPEC 3.3) give rank, alpha, dropout and target modules; the
  ``lora_r``/``lora_alpha``/``lora_dropout``/``lora_targets`` keys override single values.
- ``region``: a named tensor list, e.g. MemFlex's localisation output (SPEC 4.1): the entries of
  ``region_file`` are exact parameter names or regular expressions (``re.fullmatch``).

Parameter names are compared in canonical form: peft's ``base_model.model.`` prefix removed
(SPEC 8 item 22: ReLearn's masks never matched because of such prefixes).

Saving (:func:`save_model`): a LoRA model is saved as an adapter (``adapter_config.json`` +
``adapter_model.safetensors``, its base recorded as an absolute path); with ``merge`` the merged
model goes to ``models/<role>`` and the adapter beside it in ``models/<role>_lora``; without it
``models/<role>`` is the adapter directory and :func:`load_model` loads base + adapter.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import validator
from ..distributed import on_main
from ..errors import ObliviateError, did_you_mean

SCOPES = ("full", "lora", "layers", "region")
# a decoder block's parameters: ``layers.N.`` (Llama, Qwen2, Phi-3, Gemma-2), ``h.N.`` (GPT-2,
# GPT-J, Falcon, Bloom), ``blocks.N.`` (MPT and others), after a dot or at the start
LAYER_NAME = re.compile(r"(?:^|\.)(?:layers|h|blocks)\.(\d+)\.")
PEFT_PREFIX = "base_model.model."
ADAPTER_SUFFIX = "_lora"  # models/<role>_lora holds the adapter of a merged LoRA model
ADAPTER_NAME = "default"


@dataclass(frozen=True)
class LoraSpec:
    r: int
    alpha: float
    dropout: float
    targets: tuple[str, ...]  # module names, or ("all-linear",): every linear layer but lm_head


# SPEC 3.3: RWKU common; KnowUnDo fine-tune; ReLearn unlearning (new adapter).
LORA_PRESETS: dict[str, LoraSpec] = {
    "rwku": LoraSpec(r=8, alpha=16, dropout=0.0, targets=("q_proj", "v_proj")),
    "knowundo": LoraSpec(r=8, alpha=16, dropout=0.1, targets=("all-linear",)),
    "relearn": LoraSpec(r=32, alpha=32, dropout=0.05, targets=("all-linear",)),
}


@dataclass
class Scoped:
    """A model with its scope applied.

    ``adapter``: ``""`` (no LoRA), ``"fresh"`` (a new adapter: the base with adapters disabled
    is the reference model) or ``"continued"`` (an existing adapter keeps training: the reference
    is a snapshot of its initial weights, SPEC 3.0).
    """

    model: nn.Module
    trainable: int
    adapter: str = ""


# ---- names -------------------------------------------------------------------------------
def canonical_name(name: str) -> str:
    """Parameter name without peft's wrapper prefix."""
    return name[len(PEFT_PREFIX) :] if name.startswith(PEFT_PREFIX) else name


def named_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``model.named_parameters()`` with canonical names."""
    return [(canonical_name(n), p) for n, p in model.named_parameters()]


def count_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---- validation --------------------------------------------------------------------------
def parse_layer_range(spec: str, key: str = "layers") -> range:
    """RWKU ``train_layers`` syntax: ``"a-b"`` trains layers a..b-1 (end exclusive)."""
    m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", spec or "")
    if not m or int(m.group(1)) >= int(m.group(2)):
        raise ObliviateError(f"{key}={spec!r}: expected 'a-b' with a < b (end exclusive)")
    return range(int(m.group(1)), int(m.group(2)))


def lora_spec(tcfg: Any, section: str = "unlearn") -> LoraSpec:
    """The preset named by ``lora_preset`` with the ``lora_*`` overrides applied."""
    if tcfg.lora_preset not in LORA_PRESETS:
        raise ObliviateError(
            f"{section}.lora_preset={tcfg.lora_preset!r} is unknown; "
            f"{did_you_mean(tcfg.lora_preset, list(LORA_PRESETS))}"
        )
    base = LORA_PRESETS[tcfg.lora_preset]
    spec = LoraSpec(
        r=base.r if tcfg.lora_r is None else int(tcfg.lora_r),
        alpha=base.alpha if tcfg.lora_alpha is None else float(tcfg.lora_alpha),
        dropout=base.dropout if tcfg.lora_dropout is None else float(tcfg.lora_dropout),
        targets=tuple(tcfg.lora_targets) or base.targets,
    )
    if spec.r < 1:
        raise ObliviateError(f"{section}.lora_r={spec.r} must be >= 1")
    if not 0.0 <= spec.dropout < 1.0:
        raise ObliviateError(f"{section}.lora_dropout={spec.dropout} must be in [0, 1)")
    if "all-linear" in spec.targets and len(spec.targets) > 1:
        raise ObliviateError(
            f"{section}.lora_targets={list(spec.targets)}: 'all-linear' cannot be combined "
            "with module names"
        )
    return spec


def validate_scope(tcfg: Any, section: str) -> None:
    """Config-time checks of a ``finetune``/``unlearn`` section's scope keys."""
    if tcfg.scope not in SCOPES:
        raise ObliviateError(
            f"{section}.scope={tcfg.scope!r} is unknown; {did_you_mean(tcfg.scope, list(SCOPES))}"
        )
    if tcfg.scope == "layers":
        parse_layer_range(tcfg.layers, f"{section}.layers")
    if tcfg.scope == "lora":
        lora_spec(tcfg, section)
    if tcfg.scope == "region" and not tcfg.region_file:
        raise ObliviateError(
            f"{section}.scope=region needs {section}.region_file (a JSON list of parameter names "
            "or regexes, the output of `obliviate localize`, or a text file with one per line)"
        )


# ---- regions -----------------------------------------------------------------------------
def read_region(path: str | Path) -> list[str]:
    """Entries of a region file: a JSON list, a JSON object with a ``region`` list (the
    ``obliviate localize`` output), or text with one name/regex per line (``#`` comments)."""
    path = Path(path)
    if not path.is_file():
        raise ObliviateError(f"region file {path} does not exist")
    text = path.read_text()
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ObliviateError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        entries = data.get("region") if isinstance(data, dict) else data
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise ObliviateError(
                f"{path}: expected a list of parameter names or an object with a 'region' list"
            )
        return entries
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def match_region(model: nn.Module, entries: Sequence[str], source: str = "region") -> set[str]:
    """Canonical names of the parameters selected by ``entries`` (exact names or regexes).

    An entry that selects nothing is an error: a stale region file must not train silently
    less than it says.
    """
    names = [n for n, _ in named_parameters(model)]
    selected: set[str] = set()
    for entry in entries:
        try:
            pattern = re.compile(entry)
        except re.error as exc:
            raise ObliviateError(f"{source}: entry {entry!r} is not a valid regex: {exc}") from None
        hits = {n for n in names if n == entry or pattern.fullmatch(n)}
        if not hits:
            raise ObliviateError(
                f"{source}: entry {entry!r} matches no parameter of the model; "
                f"{did_you_mean(entry, names)}"
            )
        selected |= hits
    return selected


# ---- applying a scope --------------------------------------------------------------------
def apply_scope(
    model: nn.Module, scope: str = "full", layers: str = "", region: Sequence[str] = ()
) -> int:
    """Set ``requires_grad`` for the in-place scopes; returns the number of trainable parameters.

    ``full``: every parameter; ``layers``: parameters of block i for i in the range (named
    ``layers.{i}.``, ``h.{i}.`` or ``blocks.{i}.``, :data:`LAYER_NAME`);
    ``region``: the parameters selected by ``region`` (see :func:`match_region`).
    LoRA changes the model's structure: use :func:`scope_model`.
    """
    if scope == "full":
        for p in model.parameters():
            p.requires_grad_(True)
    elif scope == "layers":
        keep = parse_layer_range(layers)
        pattern = LAYER_NAME
        n_layers = getattr(model.config, "num_hidden_layers", None)
        if n_layers is not None and keep.stop > n_layers:
            raise ObliviateError(f"layers={layers!r} exceeds the model's {n_layers} layers")
        for name, p in model.named_parameters():
            m = pattern.search(name)
            p.requires_grad_(bool(m) and int(m.group(1)) in keep)
    elif scope == "region":
        chosen = match_region(model, region)
        for name, p in named_parameters(model):
            p.requires_grad_(name in chosen)
    else:
        accepted = ", ".join(s for s in SCOPES if s != "lora")
        raise ObliviateError(f"scope={scope!r} is not an in-place scope; accepted: {accepted}")
    return count_trainable(model)


def is_peft(model: nn.Module) -> bool:
    from peft import PeftModel

    return isinstance(model, PeftModel)


def _is_lora_param(name: str) -> bool:
    return ".lora_" in name and f".{ADAPTER_NAME}." in name


def attach_lora(
    model: nn.Module, spec: LoraSpec, seed: int = 0, section: str = "unlearn", base: str = ""
):
    """A fresh LoRA adapter on ``model`` (peft ``get_peft_model``): only the adapter trains.

    The adapter's A matrices are drawn from a forked RNG seeded with ``seed`` (B = 0), so the
    same config always builds the same adapter without disturbing the global RNG. ``base``
    (the directory or hub id ``model`` was loaded from) is recorded in the adapter config,
    local directories as absolute paths, so that :func:`load_adapter_model` finds it.
    """
    from peft import LoraConfig, get_peft_model

    targets: str | list[str] = (
        "all-linear" if spec.targets == ("all-linear",) else list(spec.targets)
    )
    config = LoraConfig(
        r=spec.r,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            lora = get_peft_model(model, config)
        except ValueError as exc:
            linear = sorted(
                {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear)}
            )
            raise ObliviateError(
                f"{section}.lora_targets={list(spec.targets)}: {str(exc).splitlines()[0]}; "
                f"the model's linear modules: {', '.join(linear)} (or 'all-linear')"
            ) from None
    if base:
        local = Path(base).expanduser()
        lora.peft_config[ADAPTER_NAME].base_model_name_or_path = (
            str(local.resolve()) if local.exists() else base
        )
    return lora


def scope_model(
    model: nn.Module, tcfg: Any, section: str = "unlearn", seed: int = 0, base: str = ""
) -> Scoped:
    """Apply the scope of a ``finetune``/``unlearn`` config section (see the module docstring);
    ``seed`` and ``base`` go to :func:`attach_lora` for a fresh adapter."""
    if tcfg.scope == "lora":
        if is_peft(model):  # continue the adapter the model carries (KnowUnDo)
            for name, p in model.named_parameters():
                p.requires_grad_(_is_lora_param(name))
            return Scoped(model, count_trainable(model), "continued")
        lora = attach_lora(model, lora_spec(tcfg, section), seed, section, base)
        return Scoped(lora, count_trainable(lora), "fresh")
    if is_peft(model):  # a saved adapter model under a non-LoRA scope: merge it first
        model = model.merge_and_unload()
    region = read_region(tcfg.region_file) if tcfg.scope == "region" else ()
    try:
        n = apply_scope(model, tcfg.scope, tcfg.layers, region)
    except ObliviateError as exc:
        where = f"{section}.region_file={tcfg.region_file}" if region else f"{section}"
        raise ObliviateError(f"{where}: {exc}") from None
    if n == 0:
        raise ObliviateError(f"{section}.scope={tcfg.scope!r} leaves no trainable parameter")
    return Scoped(model, n)


# ---- saving and loading ------------------------------------------------------------------
def adapter_dir(model_dir: Path) -> Path:
    return model_dir.with_name(model_dir.name + ADAPTER_SUFFIX)


def is_adapter_dir(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


def save_model(
    model: nn.Module, tokenizer, out_dir: Path, merge: bool = True, state_dict: dict | None = None
) -> None:
    """Save a stage model: plain models with ``save_pretrained``; LoRA models as an adapter
    plus, with ``merge``, the merged model in ``out_dir`` (the adapter then goes to
    ``<out_dir>_lora``). Rank 0 writes, the other ranks wait at a barrier (``state_dict``: the
    gathered full weights of a sharded engine, see :func:`.loading.save_pretrained`)."""
    from .loading import save_pretrained

    out_dir = Path(out_dir)
    if not is_peft(model):
        save_pretrained(model, tokenizer, out_dir, state_dict)
        on_main(shutil.rmtree, adapter_dir(out_dir), ignore_errors=True)  # a stale adapter
        return
    on_main(_save_adapter, model, tokenizer, out_dir, merge)
    if merge:
        save_pretrained(model.merge_and_unload(adapter_names=[ADAPTER_NAME]), tokenizer, out_dir)


def _save_adapter(model: nn.Module, tokenizer, out_dir: Path, merge: bool) -> None:
    from ..io import replace_dir

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True, selected_adapters=[ADAPTER_NAME])
        tokenizer.save_pretrained(tmp)

    replace_dir(adapter_dir(out_dir) if merge else out_dir, write)
    if not merge:
        shutil.rmtree(adapter_dir(out_dir), ignore_errors=True)


def load_adapter_model(
    path: str | Path, dtype: str = "float32", trust_remote_code: bool = False, keep: bool = False
):
    """Load base + adapter from an adapter directory; merged into a plain model unless ``keep``
    (then a trainable ``PeftModel`` whose adapter a LoRA scope continues)."""
    from peft import PeftModel

    from .loading import load_pretrained

    cfg_path = Path(path) / "adapter_config.json"
    try:
        base = json.loads(cfg_path.read_text())["base_model_name_or_path"]
    except (KeyError, json.JSONDecodeError) as exc:
        raise ObliviateError(f"{cfg_path}: no readable base_model_name_or_path ({exc})") from None
    if not base:
        raise ObliviateError(f"{cfg_path}: base_model_name_or_path is empty")
    base_model, tokenizer = load_pretrained(base, dtype, trust_remote_code)
    model = PeftModel.from_pretrained(base_model, str(path), is_trainable=keep)
    return (model if keep else model.merge_and_unload()), tokenizer


@validator
def _check_scopes(cfg: Any) -> None:
    for name in ("finetune", "unlearn"):
        validate_scope(getattr(cfg, name), name)
