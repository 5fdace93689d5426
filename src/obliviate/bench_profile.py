"""What holds a training loop back from the matmul peak: a ``torch.profiler`` breakdown.

:func:`profile_training` runs the fine-tune loop (:func:`obliviate.training.train` with the
``sft`` method's loss, the trainer's own collate and batches) for a few optimizer steps under
``torch.profiler`` (CPU activities) and splits the wall time of the profiled block into:

- ``matmul``: self time of ``aten::mm`` / ``addmm`` / ``bmm`` / ``baddbmm`` / ``matmul`` /
  ``linear`` (forward and backward);
- ``attention``: ``scaled_dot_product_attention`` and its kernels and backward, softmax;
- ``loss``: log-softmax, NLL / cross-entropy, logsumexp;
- ``optimizer``: every op (and the Python between them) inside ``Optimizer.step`` /
  ``Optimizer.zero_grad`` (AdamW);
- ``elementwise/norm/other``: every other ``aten::`` op (RMSNorm, SiLU, RoPE, adds, copies,
  embedding, gradient clipping, collate's tensor building);
- ``autograd/dispatch``: self time of the non-``aten`` events outside the optimizer (autograd
  nodes such as ``MmBackward0``, the engine's ``evaluate_function``);
- ``python/framework``: the rest of the wall time, inside no profiled op: Python (the training
  loop, accelerate, the loss's Python code, the progress bar), the interpreter between ops.

Self times are disjoint, so the parts sum to the wall time. The profiler itself adds a few
microseconds per op (to ``python/framework`` and the op's own time): the shares are those of
the profiled run, which is slower than an unprofiled one.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

CATEGORIES = ("matmul", "attention", "loss", "optimizer", "elementwise/norm/other",
              "autograd/dispatch", "python/framework")  # fmt: skip
MATMUL = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear")
ATTENTION = ("attention", "softmax")
LOSS = ("log_softmax", "nll_loss", "cross_entropy", "logsumexp")
OPTIMIZER = ("Optimizer.step", "Optimizer.zero_grad")


def category(name: str, in_optimizer: bool) -> str:
    """The category of an event's self time (module docstring)."""
    if in_optimizer:
        return "optimizer"
    if not name.startswith("aten::"):
        return "autograd/dispatch"
    if name in MATMUL:
        return "matmul"
    low = name.lower()
    if any(k in low for k in LOSS):
        return "loss"
    if any(k in low for k in ATTENTION):
        return "attention"
    return "elementwise/norm/other"


def _in_optimizer(event: Any) -> bool:
    while event is not None:
        if event.name.startswith(OPTIMIZER):
            return True
        event = event.cpu_parent
    return False


def breakdown(events: list[Any], wall_s: float) -> dict[str, Any]:
    """Seconds and shares of :data:`CATEGORIES` from profiler ``events`` (FunctionEvent: name,
    ``self_cpu_time_total`` in µs, ``cpu_parent``) over ``wall_s`` seconds."""
    seconds = dict.fromkeys(CATEGORIES, 0.0)
    ops: dict[str, dict[str, Any]] = {}
    for ev in events:
        self_s = ev.self_cpu_time_total / 1e6
        cat = category(ev.name, _in_optimizer(ev))
        seconds[cat] += self_s
        op = ops.setdefault(ev.name, {"name": ev.name, "category": cat, "calls": 0, "self_s": 0.0})
        op["calls"] += 1
        op["self_s"] += self_s
    profiled = sum(seconds.values())
    seconds["python/framework"] = max(wall_s - profiled, 0.0)
    total = max(wall_s, profiled)
    top = sorted(ops.values(), key=lambda o: -o["self_s"])[:15]
    for op in top:
        op["share"] = op["self_s"] / total
    return {"wall_s": wall_s, "seconds": seconds,
            "shares": {k: v / total for k, v in seconds.items()}, "top_ops": top}  # fmt: skip


def profile_training(cfg: Any, data: Any, fmt: Any, model: Any, steps: int,
                     batch: int = 0) -> dict[str, Any]:  # fmt: skip
    """The breakdown of ``steps`` fine-tune steps of a copy of ``model`` (module docstring)."""
    import copy

    import torch
    from torch.profiler import ProfilerActivity, profile

    from .methods import Context, get_method_class
    from .training import train

    method = get_method_class("sft")()
    examples = method.build_forget(data.finetune, fmt, data)
    ctx = Context(fmt, examples, [], device=next(model.parameters()).device)
    tcfg = dataclasses.replace(cfg.finetune, max_steps=steps, log_every=10**9, checkpoint_every=0,
                               batch_size=batch or cfg.finetune.batch_size)  # fmt: skip
    trained = copy.deepcopy(model)

    def loss(m: torch.nn.Module, b: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        return method.loss(m, b, ctx)

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        result = train(trained, loss, examples, tcfg, fmt.pad_id, cfg.run.seed, desc="profile")
        wall = time.perf_counter() - t0
    out = breakdown(list(prof.events()), wall)
    out.update(steps=result.steps, batch_size=tcfg.batch_size, loop_s=result.seconds)
    return out


def render_profile(prof: dict[str, Any]) -> str:
    """Markdown: the categories, then the top ops by self CPU time."""
    lines = [
        f"Fine-tune loop under torch.profiler: {prof['steps']} steps, batch {prof['batch_size']}, "
        f"{prof['wall_s']:.3f} s profiled wall time (loop {prof['loop_s']:.3f} s).",
        "",
        "| part | seconds | share |",
        "|---|---|---|",
    ]
    for name in CATEGORIES:
        lines.append(
            f"| {name} | {prof['seconds'][name]:.4f} | {100 * prof['shares'][name]:.1f}% |"
        )
    lines += ["", "| op (self CPU) | part | calls | seconds | share |", "|---|---|---|---|---|"]
    for op in prof["top_ops"]:
        lines.append(f"| `{op['name']}` | {op['category']} | {op['calls']} | "
                     f"{op['self_s']:.4f} | {100 * op['share']:.1f}% |")  # fmt: skip
    return "\n".join(lines)
