"""The training recipe every method runs (fine-tuning is the ``sft`` method), top to bottom:

1. the method's training examples: ``build_forget`` (+ ``build_retain`` when it uses retain data);
2. the parameter scope (before ``prepare``: a method may narrow it, e.g. rmu, memflex);
3. the reference model when the method needs one (LoRA: the adapter-disabled base or an adapter
   snapshot, never a second copy; SPEC 3.0);
4. the method's :class:`~obliviate.methods.Context` and ``prepare`` (cached reference statistics);
5. :func:`obliviate.training.train` with the method's loss and its ``before_step`` /
   ``after_step`` hooks (methods with ``trains = False`` stop after ``prepare``).

The pipeline's fine-tune and unlearn stages and the method tests call :func:`unlearn`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .distributed import on_main
from .errors import ObliviateError
from .methods import Context, Method
from .models.reference import make_reference
from .models.scope import scope_model
from .records import BenchmarkData
from .train_memory import make_accelerator, sharded_engine
from .training import Checkpointing, TrainConfig, TrainResult, train


@dataclass
class Unlearned:
    """What :func:`unlearn` returns: the trained (unwrapped) model, the method's context, the
    reference strategy, the training result (None when the method does not train) and the
    seconds spent building the data, the scope, the reference and ``prepare``."""

    model: torch.nn.Module
    ctx: Context
    reference: Any
    result: TrainResult | None
    prepare_seconds: float

    def summary(self) -> dict[str, Any]:
        """The training summary of a stage record (no steps when the method does not train)."""
        if self.result is None:
            return {"steps": 0, "trainable_params": 0}
        return self.result.summary()


def unlearn(
    method: Method,
    model: torch.nn.Module,
    data: BenchmarkData,
    formatter: Any,
    tcfg: TrainConfig,
    *,
    seed: int = 0,
    section: str = "unlearn",
    adapter_base: str = "",
    forget: list[Any] | None = None,
    retain: list[Any] | None = None,
    device: torch.device | None = None,
    batch_size: int = 8,
    load_model: Callable[[str], torch.nn.Module] | None = None,
    log_path: Path | None = None,
    desc: str = "",
    checkpoint: Checkpointing | None = None,
) -> Unlearned:
    """Train ``model`` with ``method`` under the ``tcfg`` section (``finetune`` / ``unlearn``).

    ``forget`` / ``retain``: the records of the two streams (default ``data.forget`` /
    ``data.retain``); ``adapter_base``: the base recorded by a fresh LoRA adapter; ``batch_size``:
    the batch of the method's scoring passes in ``prepare``; ``log_path``: the training log
    (JSON lines, replaced); ``load_model``: role -> a freshly loaded model, for methods that
    need one. ``checkpoint``: resumable checkpoints (:class:`~obliviate.training.Checkpointing`;
    the method's scalar attributes, e.g. PDU's dual variable, are saved with them).
    """
    device = device or torch.device("cpu")
    t0 = time.perf_counter()
    examples = method.build_forget(data.forget if forget is None else forget, formatter, data)
    retain_ex = None
    if method.uses_retain():
        records = data.retain if retain is None else retain
        retain_ex = method.build_retain(records, formatter, data)
        if not retain_ex:
            raise ObliviateError(
                f"method {method.name!r} needs retain data; benchmark {data.name!r} has none "
                "(set unlearn.params.retain_loss=none)"
            )
    scoped = scope_model(model, tcfg, section, seed, adapter_base)
    model = scoped.model
    reference = make_reference(scoped) if method.needs_reference_model() else None
    ctx = Context(formatter, examples, retain_ex or [], reference, device=device,
                  batch_size=batch_size, data=data, seed=seed, load_model=load_model)  # fmt: skip
    method.prepare(model, ctx)
    prepare_s = time.perf_counter() - t0
    if not method.trains:
        return Unlearned(model, ctx, reference, None, prepare_s)
    if log_path is not None:  # a fresh log: this training's steps only (rank 0 writes it)
        on_main(_fresh_log, log_path)
    acc = make_accelerator(tcfg.grad_accum, tcfg.mixed_precision)
    check_engine(method, acc)

    def after_step(step: int, parts: dict[str, float]) -> None:
        method.after_step(ctx, parts)

    result = train(
        model, lambda m, batch: method.loss(m, batch, ctx), examples, tcfg, formatter.pad_id, seed,
        retain=retain_ex, log_path=log_path, desc=desc or f"{section} {method.name}",
        after_step=after_step, before_step=lambda m: method.before_step(m, ctx), accelerator=acc,
        checkpoint=_with_method_state(checkpoint, method),
    )  # fmt: skip
    # keep_fp32_wrapper=False: the model's own forward back (no autocast wrapper after training)
    return Unlearned(acc.unwrap_model(model, keep_fp32_wrapper=False), ctx, reference, result,
                     prepare_s)  # fmt: skip


def _with_method_state(ck: Checkpointing | None, method: Method) -> Checkpointing | None:
    """``ck`` saving and restoring the method's scalar attributes (numbers, strings, bools)."""
    if ck is None:
        return None

    def get() -> dict[str, Any]:
        return {k: v for k, v in vars(method).items()
                if k != "p" and isinstance(v, int | float | str | bool)}  # fmt: skip

    def put(state: dict[str, Any]) -> None:
        vars(method).update(state)

    ck.state = (get, put)
    return ck


def _fresh_log(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)


def check_engine(method: Method, acc: Any) -> None:
    """Methods that edit ``p.grad`` before the step (SURE, MemFlex-iterative) need each rank to
    hold full gradients of full parameters: under FSDP and DeepSpeed they would be void."""
    engine = sharded_engine(acc)
    if engine and getattr(method, "masks_gradients", False):
        raise ObliviateError(
            f"method {method.name!r} masks full gradients before the optimizer step; under "
            f"{engine} the gradients are sharded (p.grad is not the full gradient), so the mask "
            "would do nothing: run it with DDP (accelerate launch --multi_gpu) or one process"
        )
