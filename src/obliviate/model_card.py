"""Model cards: a ``README.md`` in every model directory a run saved (``models/<role>``,
``models/<role>_lora``), in the Hugging Face model-card layout.

Front matter (YAML): ``base_model`` (the hub id the model derives from, when
``model.name_or_path`` is one; never a local path), ``library_name`` (``peft`` for an adapter
directory, else ``transformers``), ``tags`` (``unlearning``, the method, ``obliviate``, the
benchmark). Body: what the model is, the method and its parameters, the forget / retain data,
the headline metrics with the benchmark and ``eval.protocol``, the obliviate version.

A card is written after a stage saves its model and again once ``metrics.json`` exists (then
with the metrics). The card is a file of the stage's directory, so the stage's record
(``stages/<stage>.json``, whose ``artifacts`` vouch for every file) is updated with the card's
new entry: a rewritten card never makes a finished stage run again.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from . import distributed
from .io import file_entry, read_json, write_atomic, write_json

ROLE_STAGE = {"base": "base", "target": "finetune_target", "retain": "finetune_retain",
              "unlearned": "unlearn"}  # fmt: skip
ROLE_TEXT = {
    "base": "the run's freshly initialised tiny base model (trained tokenizer, random weights)",
    "target": "the target model: the base model fine-tuned on the forget and retain data",
    "retain": "the retain (gold) model: the base model fine-tuned on the retain data only",
    "unlearned": "the unlearned model: the target model after unlearning the forget data",
}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def hub_id(name_or_path: str) -> str | None:
    """``name_or_path`` when it is a hub id (``org/name``, not an existing local path, not
    ``tiny`` or a preset), else None."""
    from .models.presets import PRESETS

    if name_or_path == "tiny" or name_or_path in PRESETS:
        return None
    if name_or_path.startswith((".", "/", "~")) or Path(name_or_path).expanduser().exists():
        return None
    return name_or_path if HUB_ID.match(name_or_path) else None


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _version

    try:
        return _version("obliviate")
    except PackageNotFoundError:
        return "unknown"


def _method_lines(cfg: Any, role: str) -> tuple[str, list[str]]:
    from .config import to_dict

    full = to_dict(cfg)
    if role == "unlearned":
        sec, method = full["unlearn"], cfg.unlearn.method
    elif role in ("target", "retain"):
        sec, method = full["finetune"], "sft"
    else:
        return "none", ["- none: the base model is not trained by the run"]
    keys = ("scope", "lr", "epochs", "max_steps", "batch_size", "grad_accum", "layers", "lora_r")
    lines = [f"- method: `{method}`"]
    lines += [f"- {k}: `{sec[k]}`" for k in keys if k in sec and sec[k] not in ("", None)]
    params = sec.get("params") or {}
    if params:
        lines.append("- parameters: " + ", ".join(f"`{k}={v}`" for k, v in params.items()))
    return method, lines


def _data_lines(rd: Any, role: str) -> list[str]:
    b = rd.cfg.benchmark
    lines = [f"- benchmark: `{b.name}`" + (f" (split `{b.split}`)" if getattr(b, "split", "")
                                            else "")]  # fmt: skip
    if rd.data.loaded:
        d = rd.data.get()
        if role == "unlearned":
            lines.append(f"- forget: {len(d.forget)} records; retain: {len(d.retain)} records")
        elif role == "target":
            lines.append(f"- fine-tuned on {len(d.finetune)} records (forget + retain)")
        elif role == "retain":
            lines.append(f"- fine-tuned on {len(d.finetune_retain)} retain records")
        sets = [s for s in rd.cfg.eval.sets if s in d.eval_sets] or sorted(d.eval_sets)
        lines.append("- eval sets: " + ", ".join(f"`{s}`" for s in sets))
    return lines


def _metric_lines(metrics: dict[str, Any] | None, role: str, cfg: Any) -> list[str]:
    if not metrics or role not in metrics.get("models", {}):
        return ["Not evaluated yet (run `obliviate eval` with this run's config)."]
    from .report.labels import label
    from .report.tables import _fmt, _suite_info

    headline, labels = _suite_info(metrics["benchmark"])
    values = metrics["models"][role]
    keys = [k for k in headline if k in values] or list(values)[:12]
    lines = [f"Benchmark `{metrics['benchmark']}`, `eval.protocol={cfg.eval.protocol}` "
             "(see the run's metrics.json for every key):", "", "| metric | value |",
             "|---|---|"]  # fmt: skip
    lines += [f"| {label(k, labels)} | {_fmt(values[k])} |" for k in keys]
    return lines


def card_text(rd: Any, role: str, adapter: bool, metrics: dict[str, Any] | None = None) -> str:
    """The README.md of the model directory of ``role`` (``adapter``: the LoRA adapter dir)."""
    cfg = rd.cfg
    method, method_lines = _method_lines(cfg, role)
    base = hub_id(cfg.model.name_or_path)
    tags = list(dict.fromkeys(["unlearning", method, "obliviate", cfg.benchmark.name]))
    front: dict[str, Any] = {}
    if base:
        front["base_model"] = base
    front["library_name"] = "peft" if adapter else "transformers"
    front["tags"] = tags
    source = base or ("a tiny model built by the run" if cfg.model.name_or_path == "tiny"
                      else f"`{Path(cfg.model.name_or_path).name}` (a local model or preset)")  # fmt: skip
    what = ROLE_TEXT.get(role, role)
    kind = ("A LoRA adapter (load it with peft over the model it adapts: the run's target "
            "model for an unlearned adapter, the base model for a fine-tuned one)."
            if adapter else "A full model (`AutoModelForCausalLM.from_pretrained` loads it).")  # fmt: skip
    lines = [
        "---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
        f"# {rd.dir.name}: {role}", "",
        f"This is {what}, made by obliviate {version()} from {source}. {kind}", "",
        "## Method", "", *method_lines, "",
        "## Data", "", *_data_lines(rd, role), "",
        "## Metrics", "", *_metric_lines(metrics, role, cfg), "",
        "## Reproduce", "",
        f"obliviate {version()}; the full config is the run directory's `config.yaml`:",
        "`obliviate run config.yaml`.", "",
    ]  # fmt: skip
    return "\n".join(lines)


def _refresh_record(rd: Any, role: str, card: Path) -> None:
    """Put the card's new file entry into the record of the stage that made the model."""
    stage = ROLE_STAGE.get(role)
    path = rd.stage_path(stage) if stage else None
    if path is None or not path.is_file() or rd.home(stage) != rd.dir:
        return
    record = read_json(path)
    artifacts = record.get("artifacts")
    if not isinstance(artifacts, dict):
        return
    artifacts[card.relative_to(rd.dir).as_posix()] = file_entry(card)
    write_json(path, record)


def write_cards(rd: Any, metrics: dict[str, Any] | None = None) -> list[Path]:
    """A card in every model directory of this run's own ``models/`` (rank 0 writes)."""
    out: list[Path] = []

    def write() -> None:
        root = rd.dir / "models"
        if not root.is_dir():
            return
        for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            role = d.name.removesuffix("_lora")
            adapter = (d / "adapter_config.json").is_file()
            card = d / "README.md"
            text = card_text(rd, role, adapter, metrics)
            out.append(card)
            if card.is_file() and card.read_text() == text:
                continue  # unchanged: the file and the stage record stay as they are
            write_atomic(card, text)
            _refresh_record(rd, role, card)

    distributed.on_main(write)
    return out


def front_matter(card: str) -> dict[str, Any]:
    """The YAML front matter of a card's text ({} when it has none)."""
    if not card.startswith("---\n"):
        return {}
    head, sep, _ = card[4:].partition("\n---\n")
    return (yaml.safe_load(head) or {}) if sep else {}
