"""The trainer's precision and memory switches, and the accelerate object they configure.

- ``train.mixed_precision``: ``no | bf16 | fp16`` (``auto``: accelerate's own setting, from
  ``accelerate launch --mixed_precision`` or its config). Autocast through accelerate: the
  forward and backward compute in 16 bits while the trainable weights (upcast here if the model
  was loaded in 16 bits) and AdamW's states stay fp32, so an update of lr 1e-5 is not rounded
  away (pure-bf16 AdamW: bf16 has 8 mantissa bits, a relative step under 2^-9 is lost). fp16
  adds accelerate's loss scaling; it needs a GPU.
- ``train.gradient_checkpointing``: HF's activation checkpointing (non-reentrant) for the
  duration of training: activations are recomputed in backward instead of kept.
- accelerate keeps one process-wide state whose mixed precision cannot change; a stage that
  asks for another one resets it (not under DeepSpeed, whose config fixes it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import DistributedType

from .errors import ObliviateError

MIXED_PRECISION = ("auto", "no", "bf16", "fp16")


def check_mixed_precision(value: str, key: str = "train.mixed_precision") -> None:
    if value not in MIXED_PRECISION:
        raise ObliviateError(f"{key}={value!r} is unknown; accepted: {', '.join(MIXED_PRECISION)}")
    if value == "fp16" and not torch.cuda.is_available():
        raise ObliviateError(f"{key}=fp16 needs a CUDA GPU; on a CPU use no or bf16")


def resolve_mixed_precision(value: str) -> str:
    """``auto`` → accelerate's environment setting (``no`` when unset)."""
    if value != "auto":
        return value
    return os.environ.get("ACCELERATE_MIXED_PRECISION", "no").lower()


def make_accelerator(grad_accum: int, mixed_precision: str = "auto") -> Accelerator:
    """An ``Accelerator`` for one training run (the process group is the one already made)."""
    mp = resolve_mixed_precision(mixed_precision)
    shared = AcceleratorState._shared_state
    changed = shared and shared.get("_mixed_precision") != mp
    if changed and shared.get("distributed_type") != DistributedType.DEEPSPEED:
        AcceleratorState._reset_state()  # keeps the process group (PartialState)
    return Accelerator(
        gradient_accumulation_steps=grad_accum, mixed_precision=mp,
        cpu=not torch.cuda.is_available(),
    )  # fmt: skip


def sharded_engine(acc: Accelerator) -> str:
    """``"fsdp"`` / ``"deepspeed"`` when parameters or gradients are sharded across ranks (the
    engines under which ``p.grad`` is not the full gradient), else ``""``."""
    if acc.distributed_type == DistributedType.FSDP:
        return "fsdp"
    if acc.distributed_type == DistributedType.DEEPSPEED:
        return f"deepspeed zero-{acc.state.deepspeed_plugin.zero_stage}"
    return ""


def fp32_masters(model: torch.nn.Module) -> int:
    """Upcast trainable 16-bit parameters to fp32 in place; the number of tensors upcast."""
    n = 0
    for p in model.parameters():
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()
            n += 1
    return n


@contextlib.contextmanager
def checkpointing(model: torch.nn.Module, enabled: bool) -> Iterator[None]:
    """HF gradient checkpointing on ``model`` while training, off again afterwards."""
    if not enabled:
        yield
        return
    enable = getattr(model, "activation_checkpointing_enable", None)  # transformers >= 5.x
    disable = getattr(model, "activation_checkpointing_disable", None)
    if enable is None:
        enable = getattr(model, "gradient_checkpointing_enable", None)
        disable = getattr(model, "gradient_checkpointing_disable", None)
        kwargs = {"gradient_checkpointing_kwargs": {"use_reentrant": False}}
    else:
        kwargs = {"activation_checkpointing_kwargs": {"use_reentrant": False}}
    if enable is None or disable is None:
        raise ObliviateError(
            f"train.gradient_checkpointing=true: {type(model).__name__} is not a transformers "
            "model (no activation_checkpointing_enable)"
        )
    enable(**kwargs)
    try:
        yield
    finally:
        disable()


def configure_engine(acc: Accelerator, batch_size: int, grad_accum: int) -> None:
    """DeepSpeed reads the micro-batch and the accumulation from its own config; ``prepare``
    without a dataloader cannot fill ``auto`` values (not yet verified on a GPU)."""
    if acc.distributed_type == DistributedType.DEEPSPEED:
        ds = acc.state.deepspeed_plugin.deepspeed_config
        ds["train_micro_batch_size_per_gpu"] = batch_size
        ds["gradient_accumulation_steps"] = grad_accum
        ds["train_batch_size"] = batch_size * grad_accum * acc.num_processes
