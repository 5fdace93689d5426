"""Loading and saving models: a hub id, a local path, or a saved run stage.

Weights load from safetensors only (``use_safetensors=True``); ``trust_remote_code`` stays off
unless the config asks for it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..config import section, validator
from ..distributed import on_main
from ..errors import ObliviateError, did_you_mean
from ..io import replace_dir
from .presets import PRESETS, checkpoint, preset_file
from .tiny import TINY_PRESETS

if TYPE_CHECKING:  # transformers' model classes are imported where a model is loaded
    from transformers import PreTrainedModel

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
PAD_CANDIDATES = ("<|finetune_right_pad_id|>", "<pad>", "[PAD]", "<|pad|>")


@section("model")
@dataclass
class ModelConfig:
    name_or_path: str = "tiny"  # hub id, local path, "tiny", or a preset (models.presets)
    tiny_preset: str = "tiny"  # size preset when name_or_path == "tiny"
    tokenizer_vocab: int = 2048  # BPE vocabulary of the tiny model's tokenizer
    # prompt family (formatting.TEMPLATES), "chat", or "auto": the tokenizer's chat template
    # when it has one, else qa-tags
    template: str = "auto"
    system_prompt: str = ""  # chat templates: a system message before every prompt ("": none)
    # chat templates: extra template variables, e.g. {date_string: "10 Apr 2025"} (Llama-3.x)
    template_args: dict[str, str] = field(default_factory=dict)
    max_length: int = 128
    dtype: str = "float32"
    trust_remote_code: bool = False


@validator
def _check_model(cfg: Any) -> None:
    m = cfg.model
    if m.name_or_path == "tiny" and m.tiny_preset not in TINY_PRESETS:
        raise ObliviateError(
            f"model.tiny_preset={m.tiny_preset!r} is unknown; "
            f"{did_you_mean(m.tiny_preset, list(TINY_PRESETS))}"
        )
    if m.name_or_path in PRESETS:
        preset_file(PRESETS[m.name_or_path])  # a clear error with the install command
    if m.dtype not in DTYPES:
        raise ObliviateError(
            f"model.dtype={m.dtype!r} is unknown; {did_you_mean(m.dtype, list(DTYPES))}"
        )
    if m.max_length < MIN_LENGTH:
        raise ObliviateError(
            f"model.max_length={m.max_length} leaves no room for a prompt and an answer; "
            f"accepted: an integer >= {MIN_LENGTH} (within the model's position limit)"
        )
    limit = TINY_POSITIONS if m.name_or_path == "tiny" else None
    if m.name_or_path != "tiny" and m.name_or_path not in PRESETS:
        limit = check_local_model(m.name_or_path, m.trust_remote_code)
    if limit is not None and m.max_length > limit:
        raise ObliviateError(
            f"model.max_length={m.max_length} exceeds the model's {limit} positions; accepted: "
            f"{MIN_LENGTH} <= model.max_length <= {limit}"
        )


MIN_LENGTH = 16  # tokens: a template's tags, a short question and its answer
TINY_POSITIONS = 1024  # max_position_embeddings of every tiny preset (models.tiny)
POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")


def check_local_model(src: str, trust_remote_code: bool) -> int | None:
    """A local model directory's problems as one-line errors (missing, no ``config.json``, code
    it would run without ``model.trust_remote_code``); its position limit when ``config.json``
    names one. A hub id (not a local path) is not checked here: None."""
    local = Path(src).expanduser()
    if not (src.startswith((".", "/", "~")) or local.exists()):
        return None
    if not local.is_dir():
        raise ObliviateError(f"model.name_or_path={src}: the directory does not exist")
    cfg_path = local / "config.json"
    if not cfg_path.is_file():
        if (local / "adapter_config.json").is_file():
            return None  # a saved adapter directory: its base model is checked when loaded
        what = "is empty" if not any(local.iterdir()) else "has no config.json"
        raise ObliviateError(
            f"model.name_or_path={src}: the directory {what}; accepted: a save_pretrained "
            "directory (config.json + safetensors weights + tokenizer), or a hub id"
        )
    try:
        config = json.loads(cfg_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ObliviateError(f"{cfg_path}: not readable JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ObliviateError(f"{cfg_path}: expected a JSON object")
    if config.get("auto_map") and not trust_remote_code:
        raise ObliviateError(
            f"model.name_or_path={src} needs remote code ({cfg_path.name} has auto_map); "
            "accepted: model.trust_remote_code=true if you trust that code, or another model"
        )
    limits = [config[k] for k in POSITION_KEYS if isinstance(config.get(k), int)]
    return min(limits) if limits else None


def check_max_length(model: Any, max_length: int, where: str) -> None:
    """``model.max_length`` within the loaded model's position limit (right after loading, before
    any training: a hub model's limit is known only then)."""
    config = getattr(model, "config", None)
    limits = [
        getattr(config, k) for k in POSITION_KEYS if isinstance(getattr(config, k, None), int)
    ]
    if limits and max_length > min(limits):
        raise ObliviateError(
            f"model.max_length={max_length} exceeds the {min(limits)} positions of {where}; "
            f"accepted: {MIN_LENGTH} <= model.max_length <= {min(limits)}"
        )


def resolve_source(name_or_path: str | Path) -> str:
    """What the Auto classes load for ``model.name_or_path``: a preset's cached safetensors
    checkpoint (converted on first use, :mod:`.presets`), else the hub id or path itself."""
    src = str(name_or_path)
    if src in PRESETS:
        return str(checkpoint(src))
    return src


def torch_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise ObliviateError(f"model.dtype={name!r} is unknown; accepted: {', '.join(DTYPES)}")
    return DTYPES[name]


def ensure_pad(tokenizer, model: PreTrainedModel | None = None) -> None:
    """Give the tokenizer a pad token distinct from EOS (SPEC 1.2).

    Prefers a spare special token already in the vocabulary (Llama-3's
    ``<|finetune_right_pad_id|>``), then UNK; adds a new token (and resizes the embeddings)
    only as a last resort.
    """
    if tokenizer.pad_token_id is not None and tokenizer.pad_token_id != tokenizer.eos_token_id:
        return
    vocab = tokenizer.get_vocab()
    for cand in PAD_CANDIDATES:
        if cand in vocab and vocab[cand] != tokenizer.eos_token_id:
            tokenizer.pad_token = cand
            break
    else:
        if tokenizer.unk_token_id is not None and tokenizer.unk_token_id != tokenizer.eos_token_id:
            tokenizer.pad_token = tokenizer.unk_token
        else:
            tokenizer.add_special_tokens({"pad_token": "<pad>"})
            if model is not None:
                model.resize_token_embeddings(len(tokenizer))
    if model is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.pad_token_id = tokenizer.pad_token_id


def load_pretrained(
    name_or_path: str | Path, dtype: str = "float32", trust_remote_code: bool = False
) -> tuple[PreTrainedModel, object]:
    """Load a causal LM and its tokenizer with the Auto classes (hub id, local directory or a
    preset of :mod:`.presets`)."""
    src = resolve_source(name_or_path)
    local = Path(src).expanduser()
    if (src.startswith((".", "/", "~")) or os.sep in src and local.exists()) and not local.is_dir():
        raise ObliviateError(f"model path {src} does not exist")
    if local.is_dir() and not (local / "config.json").is_file():
        raise ObliviateError(
            f"could not load model {src!r}: the directory has no config.json (accepted: a "
            "save_pretrained directory, e.g. runs/<name>/models/<role>, or a hub id)"
        )
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(src, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            src,
            dtype=torch_dtype(dtype),
            trust_remote_code=trust_remote_code,
            use_safetensors=True,
        )
    except OSError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        offline = any(w in first.lower() for w in ("connect", "offline", "cached files"))
        hint = ("; the hub could not be reached: point model.name_or_path at a local copy (a "
                "save_pretrained directory)" if offline else "")  # fmt: skip
        raise ObliviateError(f"could not load model {src!r}: {first.rstrip('.')}{hint}") from None
    except ValueError as exc:  # remote code refused, an unknown model type
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ObliviateError(f"could not load model {src!r}: {first}") from None
    ensure_pad(tokenizer, model)
    return model, tokenizer


def save_pretrained(
    model: PreTrainedModel, tokenizer, out_dir: Path, state_dict: dict | None = None
) -> None:
    """Save as safetensors into ``out_dir`` atomically (:func:`obliviate.io.replace_dir`: a
    unique temporary directory renamed into place, the old one deleted only afterwards).

    Rank 0 alone writes; every rank waits at a barrier afterwards, so the saved model is on disk
    for all of them. ``state_dict``: the full weights when the model's own are sharded (FSDP /
    ZeRO-3: ``Accelerator.get_state_dict``, gathered on every rank, kept on rank 0)."""
    on_main(_save_pretrained, model, tokenizer, Path(out_dir), state_dict)


def _save_pretrained(model, tokenizer, out_dir: Path, state_dict: dict | None) -> None:
    def write(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True, state_dict=state_dict)
        tokenizer.save_pretrained(tmp)

    replace_dir(out_dir, write)
