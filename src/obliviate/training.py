"""The trainer that drives fine-tuning and every unlearning method (an accelerate loop).

Epochs are forget-anchored (SPEC 1.1 F9): one epoch = one pass over the forget (or fine-tune)
examples; each forget batch is paired with a retain batch drawn by a per-rank seeded generator.
The same loop runs on a CPU, one GPU, or several through ``accelerate launch`` (DDP, FSDP,
DeepSpeed), with gradient accumulation, clipping, warmup and LR schedules.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import get_scheduler

from .config import section, validator
from .errors import ObliviateError
from .formatting import Encoded, collate_right


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


@section("finetune")
@dataclass
class FinetuneConfig(TrainConfig):
    epochs: float = 20.0
    lr: float = 3e-3
    batch_size: int = 16
    warmup_ratio: float = 0.05
    scheduler: str = "cosine"
    enabled: bool = True  # False: the loaded model is already the target (e.g. RWKU, OU models)
    retain_model: bool = True  # also train the retain-only ("gold") model


@section("unlearn")
@dataclass
class UnlearnConfig(TrainConfig):
    method: str = "npo"
    params: dict[str, Any] = field(default_factory=dict)  # method parameters (see `list methods`)
    epochs: float = 5.0
    lr: float = 1e-3
    batch_size: int = 8


SCHEDULERS = ("constant", "linear", "cosine")


@validator
def _check_training(cfg: Any) -> None:
    for name in ("finetune", "unlearn"):
        tc = getattr(cfg, name)
        if tc.scheduler not in SCHEDULERS:
            raise ObliviateError(
                f"{name}.scheduler={tc.scheduler!r} is unknown; accepted: constant, cosine, linear"
            )
        if tc.batch_size < 1 or tc.grad_accum < 1:
            raise ObliviateError(f"{name}.batch_size and {name}.grad_accum must be >= 1")


LossFn = Callable[[torch.nn.Module, dict[str, Any]], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class TrainResult:
    steps: int
    tokens: int
    seconds: float
    trainable_params: int
    peak_memory_mb: float
    log: list[dict[str, float]] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "steps": self.steps,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
            "tokens_per_s": round(self.tokens_per_s, 1),
            "trainable_params": self.trainable_params,
            "peak_memory_mb": round(self.peak_memory_mb, 1),
        }


def peak_memory_mb(device: torch.device) -> float:
    """Peak accelerator memory (CUDA) or peak resident set size of the process (CPU)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_accelerator(grad_accum: int) -> Accelerator:
    return Accelerator(gradient_accumulation_steps=grad_accum, cpu=not torch.cuda.is_available())


Example = Encoded | dict[str, Encoded]


def collate_examples(examples: Sequence[Example], pad_id: int) -> dict[str, Any]:
    """Right-pad a batch of examples; dict examples are collated key by key (nested batches)."""
    if isinstance(examples[0], dict):
        return {k: collate_right([e[k] for e in examples], pad_id) for k in examples[0]}  # type: ignore[index]
    return collate_right(examples, pad_id)  # type: ignore[arg-type]


def _collate(items: list[tuple[int, Example]], pad_id: int) -> dict[str, Any]:
    batch = collate_examples([e for _, e in items], pad_id)
    batch["index"] = torch.tensor([i for i, _ in items], dtype=torch.long)
    return batch


def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: _to(v, device) if isinstance(v, dict) else v.to(device) for k, v in batch.items()}


def _count_tokens(batch: dict[str, Any]) -> int:
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    return sum(_count_tokens(v) for v in batch.values() if isinstance(v, dict))


def train(
    model: torch.nn.Module,
    loss_fn: LossFn,
    forget: Sequence[Example],
    tcfg: TrainConfig,
    pad_id: int,
    seed: int,
    retain: Sequence[Example] | None = None,
    log_path: Path | None = None,
    desc: str = "train",
    after_step: Callable[[int, dict[str, float]], None] | None = None,
    before_step: Callable[[torch.nn.Module], None] | None = None,
    accelerator: Accelerator | None = None,
) -> TrainResult:
    """Optimise ``loss_fn`` over batches ``{"forget": ..., "retain": ...}``.

    ``forget`` holds the anchor examples (the fine-tune set when fine-tuning); ``retain``, when
    given, is sampled with replacement, one batch per forget batch. ``before_step`` runs after
    the gradients are complete (accumulated, clipped) and before ``optimizer.step()``.
    """
    if not forget:
        raise ObliviateError(f"{desc}: no training examples (the data this stage learns is empty)")
    acc = accelerator or make_accelerator(tcfg.grad_accum)
    torch.manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in params)
    if not params:
        raise RuntimeError("no trainable parameters in scope")
    optimizer = torch.optim.AdamW(params, lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        list(enumerate(forget)),
        batch_size=tcfg.batch_size,
        shuffle=True,
        generator=gen,
        collate_fn=lambda items: _collate(items, pad_id),
    )
    micro_per_epoch = len(loader)
    steps_per_epoch = max(1, math.ceil(micro_per_epoch / tcfg.grad_accum))
    total_steps = (
        tcfg.max_steps if tcfg.max_steps > 0 else max(1, math.ceil(tcfg.epochs * steps_per_epoch))
    )
    scheduler = get_scheduler(
        tcfg.scheduler,
        optimizer,
        num_warmup_steps=int(tcfg.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    model, optimizer, loader, scheduler = acc.prepare(model, optimizer, loader, scheduler)
    retain_gen = torch.Generator().manual_seed(seed * 1000 + 17 + acc.process_index)
    model.train()
    step, tokens, log = 0, 0, []
    running: dict[str, float] = {}
    n_running = 0
    start = time.perf_counter()
    bar = tqdm(total=total_steps, desc=desc, disable=not acc.is_local_main_process, leave=False)
    while step < total_steps:
        for fb in loader:
            batch: dict[str, Any] = {"forget": fb}
            tokens += _count_tokens(fb)
            if retain:
                ridx = torch.randint(len(retain), (tcfg.batch_size,), generator=retain_gen)
                rb = collate_examples([retain[i] for i in ridx.tolist()], pad_id)
                batch["retain"] = _to(rb, acc.device)
                tokens += _count_tokens(rb)
            with acc.accumulate(model):
                loss, parts = loss_fn(model, batch)
                acc.backward(loss)
                if acc.sync_gradients and tcfg.max_grad_norm > 0:
                    acc.clip_grad_norm_(params, tcfg.max_grad_norm)
                if acc.sync_gradients and before_step is not None:
                    before_step(model)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            for k, v in {"loss": float(loss.detach()), **parts}.items():
                running[k] = running.get(k, 0.0) + v
            n_running += 1
            if not acc.sync_gradients:
                continue
            step += 1
            bar.update(1)
            if after_step is not None:
                after_step(step, parts)
            if step % tcfg.log_every == 0 or step == total_steps:
                entry = {"step": step, "lr": scheduler.get_last_lr()[0]}
                entry.update({k: v / n_running for k, v in running.items()})
                log.append(entry)
                bar.set_postfix(loss=f"{entry['loss']:.3f}")
                if log_path is not None and acc.is_main_process:
                    with open(log_path, "a") as fh:
                        fh.write(json.dumps(entry) + "\n")
                running, n_running = {}, 0
            if step >= total_steps:
                break
    bar.close()
    seconds = time.perf_counter() - start
    model.eval()
    return TrainResult(step, tokens, seconds, n_trainable, peak_memory_mb(acc.device), log)
