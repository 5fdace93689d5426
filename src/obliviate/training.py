"""The trainer that drives fine-tuning and every unlearning method (an accelerate loop).

Epochs are forget-anchored (SPEC 1.1 F9): one epoch = one pass over the forget (or fine-tune)
examples. The same loop runs on a CPU, one GPU, or W processes through ``accelerate launch``
(DDP; FSDP and DeepSpeed through accelerate's config), with gradient accumulation, clipping,
warmup and LR schedules, and mixed precision / gradient checkpointing (:mod:`.train_memory`).

Step accounting (as HF Trainer): ``batch_size`` is *per device*; one optimizer step takes the
global batch ``batch_size × W × grad_accum`` (W processes); which micro-batch each rank takes
at each step, and the number of steps, are :mod:`.train_steps`'s: W processes with grad_accum a
train exactly as one process with grad_accum W·a. The scheduler is not handed to accelerate
(its wrapper steps W times per optimizer step when ``split_batches`` is off): it steps once per
optimizer step taken. Logged losses are means over ranks; token counts are sums over ranks.

Checkpoints (:class:`Checkpointing`): every ``checkpoint_every`` optimizer steps, and at the end
of the step in progress on SIGTERM / SIGINT, ``accelerate``'s ``save_state`` writes the model,
the optimizer, the scheduler, every RNG state and the loop's position (:class:`LoopState`: the
step, the data order's generator at the epoch's start and the micro-batches taken in it, the
retain draws, the log so far, the method's scalar state) into ``<dir>`` (atomically replaced).
A rerun with the same stage fingerprint resumes there and ends with the weights of an
uninterrupted run (bit-identical on the CPU at a fixed thread count).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from . import distributed as dist
from .config import section, validator
from .errors import Interrupted, ObliviateError
from .formatting import Encoded, collate_right
from .io import crash_point, read_json, replace_dir, write_json
from .train_memory import (
    check_mixed_precision,
    checkpointing,
    configure_engine,
    fp32_masters,
    make_accelerator,
    sharded_engine,
)
from .train_steps import RankBatches, RetainDraws, plan_steps

ON_NAN = ("stop", "skip_step")

# parameter names HF Trainer never decays (transformers ``Trainer.get_decay_parameter_names``)
NO_DECAY_PATTERNS = [r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)"]


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
    # micro-batches of similar lengths (less padding; each example still once an epoch):
    # train_steps' module docstring. False: a plain shuffled DataLoader's order
    group_by_length: bool = True
    # auto: what `accelerate launch --mixed_precision` / the accelerate config says; no | bf16 |
    # fp16: autocast through accelerate over fp32 master weights (train_memory.MIXED_PRECISION)
    mixed_precision: str = "auto"
    gradient_checkpointing: bool = False  # recompute activations in backward (HF models)
    # a non-finite loss or gradient norm: stop (a one-line error naming stage, step and loss
    # part) | skip_step (drop that step's update and go on, as HF Trainer's nan handling)
    on_nan: str = "stop"
    # > 0: a resumable checkpoint every N optimizer steps (always one on SIGTERM / SIGINT);
    # a rerun resumes from the last one (runs/<name>/checkpoints/<stage>/)
    checkpoint_every: int = 0


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
    """Ranges of the ``finetune`` / ``unlearn`` keys, each error naming the key and what is
    accepted (a disabled fine-tune's training keys are not checked)."""
    for name in ("finetune", "unlearn"):
        tc = getattr(cfg, name)
        if name == "finetune" and not tc.enabled:
            continue
        if tc.scheduler not in SCHEDULERS:
            raise ObliviateError(
                f"{name}.scheduler={tc.scheduler!r} is unknown; accepted: constant, cosine, linear"
            )
        for key in ("batch_size", "grad_accum", "log_every"):
            if getattr(tc, key) < 1:
                raise ObliviateError(f"{name}.{key}={getattr(tc, key)}; accepted: an integer >= 1")
        if not tc.lr > 0:
            raise ObliviateError(f"{name}.lr={tc.lr}; accepted: a number > 0 (e.g. 1e-5)")
        if tc.max_steps <= 0 and not tc.epochs > 0:
            raise ObliviateError(
                f"{name}.epochs={tc.epochs} with {name}.max_steps={tc.max_steps}: nothing to "
                f"train; accepted: {name}.epochs > 0 or {name}.max_steps > 0"
            )
        if tc.max_steps == 0:
            raise ObliviateError(
                f"{name}.max_steps=0; accepted: an integer > 0, or -1 (use {name}.epochs)"
            )
        if not 0.0 <= tc.warmup_ratio <= 1.0:
            raise ObliviateError(f"{name}.warmup_ratio={tc.warmup_ratio}; accepted: 0 <= x <= 1")
        for key in ("weight_decay", "max_grad_norm"):
            if not getattr(tc, key) >= 0:
                raise ObliviateError(
                    f"{name}.{key}={getattr(tc, key)}; accepted: a number >= 0 (0: none)"
                )
        if tc.checkpoint_every < 0:
            raise ObliviateError(
                f"{name}.checkpoint_every={tc.checkpoint_every}; accepted: an integer >= 0 "
                "(0: only on SIGTERM / SIGINT)"
            )
        check_mixed_precision(tc.mixed_precision, f"{name}.mixed_precision")
        if tc.on_nan not in ON_NAN:
            raise ObliviateError(
                f"{name}.on_nan={tc.on_nan!r} is unknown; accepted: {', '.join(ON_NAN)}"
            )


@dataclass
class Checkpointing:
    """Where and how often :func:`train` saves resumable state.

    ``dir``: the checkpoint directory (replaced atomically at each save); ``fingerprint``: the
    stage's, so a checkpoint of other settings is never resumed; ``every``: optimizer steps
    between saves (0: only on SIGTERM / SIGINT); ``state``: (get, set) of extra resumable state
    (the method's scalars, e.g. PDU's dual variable)."""

    dir: Path
    fingerprint: str
    every: int = 0
    state: tuple[Callable[[], dict[str, Any]], Callable[[dict[str, Any]], None]] | None = None

    def resumable(self) -> dict[str, Any] | None:
        """The checkpoint's ``meta.json`` when it is one of this fingerprint, else None."""
        meta_path = self.dir / "meta.json"
        if not meta_path.is_file():
            return None
        meta = read_json(meta_path)
        return meta if meta.get("fingerprint") == self.fingerprint else None

    def clear(self) -> None:
        """Delete the checkpoint (the stage finished and its record is written)."""
        import shutil

        def remove() -> None:
            shutil.rmtree(self.dir, ignore_errors=True)
            if self.dir.parent.is_dir() and not any(self.dir.parent.iterdir()):
                self.dir.parent.rmdir()

        dist.on_main(remove)


class LoopState:
    """The training loop's position, saved with ``accelerate``'s ``save_state`` through
    ``register_for_checkpointing`` (``state_dict`` / ``load_state_dict``)."""

    def __init__(self) -> None:
        self.step = 0
        self.micro = 0  # this rank's micro-batches taken
        self.tokens = 0
        self.log: list[dict[str, float]] = []
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.parts: dict[str, float] = {}
        self.epoch_gen: torch.Tensor | None = None  # the data order's generator at epoch start
        self.in_epoch = 0  # micro-batches of the current epoch taken
        self.retain_gen: torch.Tensor | None = None
        self.retain_next = 0
        self.seconds = 0.0
        self.extra: dict[str, Any] = {}

    def state_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        vars(self).update(state)


LossFn = Callable[[torch.nn.Module, dict[str, Any]], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class TrainResult:
    steps: int
    tokens: int
    seconds: float
    trainable_params: int
    peak_memory_mb: float
    log: list[dict[str, float]] = field(default_factory=list)
    # FSDP / ZeRO-3: the gathered full state dict (rank 0) that saving must use; else None
    state_dict: dict[str, torch.Tensor] | None = field(default=None, repr=False)
    resumed_from: int = 0  # the optimizer step a checkpoint resumed this training at (0: none)

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
            **({"resumed_from_step": self.resumed_from} if self.resumed_from else {}),
        }


def peak_memory_mb(device: torch.device) -> float:
    """Peak accelerator memory (CUDA) or peak resident set size of the process (CPU)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def example_length(example: Example) -> int:
    """Tokens of an example (a nested one: its longest part), the key of length grouping."""
    if isinstance(example, dict):
        return max(len(e.input_ids) for e in example.values())
    return len(example.input_ids)


def _lengths(examples: Sequence[Example] | None, tcfg: TrainConfig) -> list[int] | None:
    if not examples or not tcfg.group_by_length:
        return None
    return [example_length(e) for e in examples]


def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: _to(v, device) if isinstance(v, dict) else v.to(device) for k, v in batch.items()}


def _count_tokens(batch: dict[str, Any]) -> int:
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    return sum(_count_tokens(v) for v in batch.values() if isinstance(v, dict))


def diverged(desc: str, step: int, norm: Any, loss: Any, parts: dict[str, float],
             on_nan: str) -> None:  # fmt: skip
    """A non-finite gradient norm at optimizer step ``step``: raise a one-line error naming the
    stage, the step and the loss parts (``on_nan=stop``), or return so the step is skipped."""
    if on_nan == "skip_step":
        return
    values = {"loss": float(loss.detach()) if torch.is_tensor(loss) else loss, **parts}
    shown = ", ".join(f"{k}={v:.4g}" for k, v in values.items())
    raise ObliviateError(
        f"{desc}: diverged at optimizer step {step}: gradient norm {float(norm):.4g} ({shown}); "
        "the model is not evaluated. Lower the learning rate, set max_grad_norm, or pass "
        "on_nan=skip_step to drop such steps"
    )


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups of the trainable parameters, grouped as HF Trainer groups them
    (``Trainer.get_decay_parameter_names``, so open-unlearning and every peer built on it): weight
    decay on every parameter except biases and norm weights (LayerNorm modules, names with
    ``bias`` / ``layernorm`` / ``rmsnorm`` / ``norm``), which get 0. One group when
    ``weight_decay`` is 0."""
    from transformers.trainer_pt_utils import get_parameter_names  # imports peft: lazily

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if weight_decay == 0:
        return [{"params": [p for _, p in named], "weight_decay": 0.0}]
    decayed = set(get_parameter_names(model, [torch.nn.LayerNorm], NO_DECAY_PATTERNS))
    groups = [
        {"params": [p for n, p in named if n in decayed], "weight_decay": weight_decay},
        {"params": [p for n, p in named if n not in decayed], "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


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
    checkpoint: Checkpointing | None = None,
) -> TrainResult:
    """Optimise ``loss_fn`` over batches ``{"forget": ..., "retain": ...}``.

    ``forget`` holds the anchor examples (the fine-tune set when fine-tuning); ``retain``, when
    given, is sampled with replacement, one batch per forget batch. ``before_step`` runs after
    the gradients are complete (accumulated, clipped) and before ``optimizer.step()``.
    ``checkpoint``: resumable state is saved there (see the module docstring) and resumed from.
    """
    from transformers import get_scheduler  # imports peft (transformers.trainer_utils): lazily

    if not forget:
        raise ObliviateError(f"{desc}: no training examples (the data this stage learns is empty)")
    acc = accelerator or make_accelerator(tcfg.grad_accum, tcfg.mixed_precision)
    torch.manual_seed(seed)
    if acc.mixed_precision != "no":
        fp32_masters(model)  # autocast computes in 16 bits; weights and AdamW states stay fp32
    params = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in params)
    if not params:
        raise RuntimeError("no trainable parameters in scope")
    optimizer = torch.optim.AdamW(decay_groups(model, tcfg.weight_decay), lr=tcfg.lr)
    with checkpointing(model, tcfg.gradient_checkpointing):
        configure_engine(acc, tcfg.batch_size, tcfg.grad_accum)
        wrapped, optimizer = acc.prepare(model, optimizer)
        world, rank = acc.num_processes, acc.process_index
        plan = plan_steps(len(forget), tcfg.batch_size, world, tcfg.grad_accum, tcfg.epochs,
                          tcfg.max_steps, tcfg.warmup_ratio)  # fmt: skip
        batches = RankBatches(len(forget), tcfg.batch_size, world, rank, tcfg.grad_accum, seed,
                              _lengths(forget, tcfg))  # fmt: skip
        # not prepared: accelerate's wrapper would step it num_processes times per step
        scheduler = get_scheduler(tcfg.scheduler, optimizer.optimizer, num_warmup_steps=plan.warmup,
                                  num_training_steps=plan.total)  # fmt: skip
        state = LoopState()
        saver = None
        if checkpoint is not None:
            acc.register_for_checkpointing(scheduler, state)
            saver = _Saver(acc, checkpoint, state, log_path)
            saver.resume(desc)
        with _graceful(saver):
            result = _loop(acc, wrapped, optimizer, scheduler, batches, loss_fn, plan, tcfg,
                           forget, pad_id, seed, retain, log_path, desc, after_step, before_step,
                           state, saver)  # fmt: skip
        result.trainable_params = n_trainable
        if sharded_engine(acc):  # FSDP / ZeRO-3: the full weights, gathered for rank 0's save
            result.state_dict = acc.get_state_dict(wrapped)
    model.eval()
    return result


class _Saver:
    """Saves and resumes :class:`Checkpointing` state for one :func:`train` call."""

    def __init__(self, acc: Accelerator, ck: Checkpointing, state: LoopState,
                 log_path: Path | None):  # fmt: skip
        self.acc, self.ck, self.state, self.log_path = acc, ck, state, log_path
        self.signal: int | None = None  # a SIGTERM / SIGINT received: save, then stop
        self.resumed_from = 0

    def resume(self, desc: str) -> None:
        meta = self.ck.resumable()
        if meta is None:
            if (self.ck.dir / "meta.json").is_file() and dist.is_main():
                print(f"obliviate: note: {desc}: {self.ck.dir} holds a checkpoint of other "
                      "settings; starting from step 0", file=sys.stderr)  # fmt: skip
            return
        self.acc.load_state(str(self.ck.dir))
        if self.ck.state is not None:
            self.ck.state[1](self.state.extra)
        self.resumed_from = self.state.step
        if self.log_path is not None and self.acc.is_main_process:  # the log up to that step
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.write_text("".join(json.dumps(e) + "\n" for e in self.state.log))
        if dist.is_main():
            print(f"obliviate: note: {desc}: resuming from the checkpoint at optimizer step "
                  f"{self.state.step} ({self.ck.dir})", file=sys.stderr)  # fmt: skip

    def save(self, elapsed: float) -> None:
        """All ranks write ``save_state`` into one temporary directory; rank 0 then swaps it in
        with ``meta.json`` (the fingerprint and the step)."""
        st = self.state
        st.extra = self.ck.state[0]() if self.ck.state is not None else {}
        saved, st.seconds = st.seconds, st.seconds + elapsed
        tmp = self.ck.dir.with_name(f".{self.ck.dir.name}.save-{self.ck.fingerprint}")
        quiet = logging.getLogger("accelerate.utils.other")  # "Removed shared tensor": tied
        level = quiet.level  # embeddings, re-tied on load; said at every checkpoint otherwise
        quiet.setLevel(logging.ERROR)
        try:
            self.acc.save_state(str(tmp), safe_serialization=True)
        finally:
            quiet.setLevel(level)
        st.seconds = saved
        if self.acc.is_main_process:
            write_json(tmp / "meta.json", {"fingerprint": self.ck.fingerprint, "step": st.step})

            def move(dest: Path) -> None:
                dest.rmdir()
                os.replace(tmp, dest)

            replace_dir(self.ck.dir, move)
        self.acc.wait_for_everyone()


class _graceful:
    """While training: SIGTERM / SIGINT set ``saver.signal`` (the loop saves a checkpoint at the
    end of the step in progress and raises :class:`Interrupted`); a second one interrupts at once.
    Installed only in the main thread and only when there is a checkpoint to save."""

    def __init__(self, saver: _Saver | None):
        self.saver = saver
        self.old: dict[int, Any] = {}

    def __enter__(self):
        if self.saver is None or threading.current_thread() is not threading.main_thread():
            return self
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        assert self.saver is not None
        if self.saver.signal is not None:  # the second one: stop now
            raise Interrupted(signum, "interrupted again; not waiting for the checkpoint")
        self.saver.signal = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.old.items():
            signal.signal(sig, handler)


def _loop(acc, model, optimizer, scheduler, batches, loss_fn, plan, tcfg, forget, pad_id, seed,
          retain, log_path, desc, after_step, before_step, st, saver) -> TrainResult:  # fmt: skip
    """The optimizer steps of :func:`train` over the prepared ``model``, from the position in
    ``st`` (a fresh :class:`LoopState`, or one a checkpoint restored)."""
    world, rank = acc.num_processes, acc.process_index
    retain_draws = None
    if retain:
        retain_draws = RetainDraws(len(retain), tcfg.batch_size, seed, _lengths(retain, tcfg))
    if st.epoch_gen is not None:  # resumed: the data order and the retain draws where they were
        batches.gen.set_state(st.epoch_gen)
    if retain_draws is not None and st.retain_gen is not None:
        retain_draws.restore(st.retain_gen, st.retain_next)
    model.train()
    parts = st.parts
    start = time.perf_counter()
    bar = tqdm(total=plan.total, initial=st.step, desc=desc, disable=not acc.is_local_main_process,
               leave=False)  # fmt: skip
    while st.step < plan.total:
        st.epoch_gen = batches.gen.get_state()
        skip, st.in_epoch = st.in_epoch, 0
        for k, idx in enumerate(batches.epoch()):
            if k < skip:  # taken before the checkpoint this run resumed from
                continue
            g, st.micro = st.micro * world + rank, st.micro + 1  # the global micro-batch index
            empty = idx is None
            if empty and world == 1:  # contributes a zero gradient: nothing to compute
                idx = []
            if empty and world > 1:  # joins the all-reduce with a zero-weighted loss
                idx = list(range(min(tcfg.batch_size, len(forget))))
            batch: dict[str, Any] = {}
            if idx:
                fb = _to(_collate([(i, forget[i]) for i in idx], pad_id), acc.device)
                batch["forget"] = fb
                st.tokens += 0 if empty else _count_tokens(fb)
            if idx and retain:
                rb = collate_examples([retain[i] for i in retain_draws.draw(g)], pad_id)
                batch["retain"] = _to(rb, acc.device)
                st.tokens += 0 if empty else _count_tokens(rb)
            with acc.accumulate(model):
                if batch:
                    loss, micro_parts = loss_fn(model, batch)
                    acc.backward(loss * 0.0 if empty else loss)
                finite = True
                if acc.sync_gradients:  # the norm of the all-reduced gradient: every rank agrees
                    crash_point(f"mid_step@{st.step + 1}")
                    max_norm = tcfg.max_grad_norm if tcfg.max_grad_norm > 0 else float("inf")
                    norm = acc.clip_grad_norm_(model.parameters(), max_norm)
                    finite = norm is None or bool(torch.isfinite(torch.as_tensor(norm)))
                    if not finite:
                        diverged(desc, st.step + 1, norm, loss, micro_parts, tcfg.on_nan)
                if acc.sync_gradients and finite and before_step is not None:
                    before_step(model)
                if finite:
                    optimizer.step()
                if acc.sync_gradients and finite and not acc.optimizer_step_was_skipped:
                    scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            if not empty:
                parts = micro_parts
                for key, v in {"loss": float(loss.detach()), **parts}.items():
                    st.sums[key], st.counts[key] = (
                        st.sums.get(key, 0.0) + v,
                        st.counts.get(key, 0) + 1,
                    )
            if not acc.sync_gradients:
                continue
            st.step += 1
            st.in_epoch = k + 1
            bar.update(1)
            if after_step is not None:
                after_step(st.step, parts)
            if st.step % tcfg.log_every == 0 or st.step == plan.total:
                means = dist.pooled_means(st.sums, st.counts)  # over every rank's micro-batches
                entry = {"step": st.step, "lr": scheduler.get_last_lr()[0], **means}
                st.log.append(entry)
                bar.set_postfix(loss=f"{entry.get('loss', float('nan')):.3f}")
                if log_path is not None and acc.is_main_process:
                    with open(log_path, "a") as fh:
                        fh.write(json.dumps(entry) + "\n")
                st.sums, st.counts = {}, {}
            if st.step >= plan.total:
                break
            if saver is not None:
                stop = dist.sum_over_ranks(int(saver.signal is not None)) > 0  # every rank agrees
                if stop or (saver.ck.every > 0 and st.step % saver.ck.every == 0):
                    st.parts = parts
                    if retain_draws is not None:
                        st.retain_gen, st.retain_next = retain_draws.state()
                    saver.save(time.perf_counter() - start)
                    crash_point(f"checkpoint@{st.step}")
                if stop:
                    bar.close()
                    raise Interrupted(saver.signal or signal.SIGTERM,
                                      f"{desc}: checkpoint saved at optimizer step {st.step} "
                                      f"({saver.ck.dir}); rerun the same command to resume")  # fmt: skip
            crash_point(f"step@{st.step}")
    bar.close()
    seconds = st.seconds + time.perf_counter() - start
    tokens = dist.sum_over_ranks(st.tokens)
    result = TrainResult(st.step, tokens, seconds, 0, peak_memory_mb(acc.device), st.log)
    result.resumed_from = saver.resumed_from if saver is not None else 0
    return result
