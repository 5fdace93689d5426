"""``obliviate bench throughput``: how close training, scoring and generation run to the machine.

Each pass runs the project's own code path on one model (the tiny preset on synthkb unless the
config says otherwise), after an untimed warm-up:

- ``finetune`` / ``npo`` / ``gd``: :func:`obliviate.recipe.unlearn` (the method's ``loss``, the
  trainer's collate and batches, AdamW, clipping) for ``--steps`` optimizer steps, fine-tune on
  ``data.finetune`` under the ``finetune`` section, NPO and GD on the forget (+ retain) records
  under ``unlearn``; each starts from a fresh copy of the model; seconds are the training loop's
  own (:attr:`obliviate.training.TrainResult.seconds`, NPO's reference pass in ``prepare`` left
  out);
- ``score``: :func:`obliviate.eval.scoring.score` over the fine-tune records;
- ``generate``: :func:`obliviate.generation.hf.generate` (greedy, ``eval.max_new_tokens``) on the
  questions of the eval sets.

Tokens are counted where the model sees them (a forward pre-hook on the model, training-mode
forwards for the training passes, eval-mode ones for the others): *padded* tokens = the numel
of every ``input_ids`` the model was given (what it computes on); *real* tokens = those that are
not padding (attention mask 1 and not the pad id: a finished row of a generation batch fed the
pad id counts as padding). Real ≤ padded always.

FLOPs (the count of Kaplan et al. 2020 and PaLM's MFU, Chowdhery et al. 2022, App. B):
N = every parameter except the input embedding matrix, plus the LM head's matrix once even when
it is tied to the embedding (its matmul is done at every position) — i.e. the weights of every
matmul plus the norms' few weights; training counts 6·N FLOPs per real token (forward 2·N,
backward 4·N), scoring and generation 2·N. Not counted: attention's score and value products
(≈ 12·L·T·h per token of context T, small at these lengths), the loss, the optimizer. The LM
head is counted at every token although obliviate's losses and scoring project only from the
batch's earliest labelled position (``models.batches.labelled_forward``): the count is the
model's, not the implementation's, so it compares across tools.

Peak: the same process times torch matmuls of the model's own shapes (every ``nn.Linear``
weight [k, n], with as many rows as the training passes' mean padded tokens per forward, T),
each fwd+bwd-like (Y = X·W, dX = dY·Wᵀ, dW = Xᵀ·dY: 6·T·k·n FLOPs), best of several repeats;
the peak is their FLOP-weighted rate (Σ FLOPs / Σ seconds, each shape as often as the model
has it). The ratio achieved / peak is the MFU against what this machine's matmuls reach at
these shapes. A training pass below 70 % of it gets a ``torch.profiler`` breakdown
(:mod:`obliviate.bench_profile`) written beside the JSON. Start-up (process start to the
benchmark, imports of the training / evaluation stack, data, tokenizer, model) is reported
separately.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .io import write_atomic, write_json

TRAIN_PASSES = ("finetune", "npo", "gd")
EVAL_PASSES = ("score", "generate")
PASSES = TRAIN_PASSES + EVAL_PASSES
PROFILE_BELOW = 0.70  # a training pass under this share of the peak is profiled


# ---- counting ---------------------------------------------------------------------------------
class TokenCounter:
    """Real and padded tokens of every forward of a model (a forward pre-hook).

    ``training``: count training-mode forwards only (True), eval-mode only (False)."""

    def __init__(self, model: Any, pad_id: int, training: bool):
        self.pad_id, self.training = pad_id, training
        self.real = self.padded = self.forwards = 0
        self.handle = model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module: Any, args: tuple, kwargs: dict) -> None:
        if module.training != self.training:
            return
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            return
        real = ids != self.pad_id
        mask = kwargs.get("attention_mask")
        if mask is not None:
            real &= mask[:, -ids.shape[1] :].bool()
        self.real += int(real.sum())
        self.padded += ids.numel()
        self.forwards += 1

    def reset(self) -> None:
        self.real = self.padded = self.forwards = 0

    def close(self) -> None:
        self.handle.remove()


def flop_params(model: Any) -> int:
    """N of the module docstring: all parameters − the input embedding + the LM head once."""
    total = sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight
    head = model.get_output_embeddings()
    head_w = head.weight if head is not None else None
    tied = head_w is emb  # tie_weights shares the one Parameter
    return total - emb.numel() + (head_w.numel() if tied else 0)


def pass_flops(n_params: int, tokens: int, training: bool) -> int:
    """FLOPs of ``tokens`` real tokens: 6·N each in training, 2·N forward only."""
    return (6 if training else 2) * n_params * tokens


# ---- the matmul peak --------------------------------------------------------------------------
def linear_shapes(model: Any) -> list[dict[str, int]]:
    """The model's matmul shapes: ``{"k", "n", "count"}`` per distinct ``nn.Linear`` weight
    [in, out] (the LM head included)."""
    import torch

    counts: dict[tuple[int, int], int] = {}
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            key = (module.in_features, module.out_features)
            counts[key] = counts.get(key, 0) + 1
    return [{"k": k, "n": n, "count": c} for (k, n), c in sorted(counts.items())]


def matmul_peak(shapes: list[dict[str, int]], tokens: int, repeats: int = 5,
                min_seconds: float = 0.02) -> dict[str, Any]:  # fmt: skip
    """Best-of-``repeats`` FLOP/s of each shape's fwd+bwd-like matmul triple at ``tokens``
    rows, and the FLOP-weighted peak over the model's shapes (module docstring)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    rows, flops_sum, seconds_sum = [], 0.0, 0.0
    for s in shapes:
        k, n = s["k"], s["n"]
        x, w = torch.randn(tokens, k, generator=gen), torch.randn(k, n, generator=gen)
        dy = torch.randn(tokens, n, generator=gen)

        def triple(x: torch.Tensor = x, w: torch.Tensor = w, dy: torch.Tensor = dy) -> None:
            torch.mm(x, w), torch.mm(dy, w.t()), torch.mm(x.t(), dy)

        triple()
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < min_seconds:  # calls per timing: >= min_seconds
            triple()
            reps += 1
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(reps):
                triple()
            best = min(best, (time.perf_counter() - t0) / reps)
        flops = 6.0 * tokens * k * n
        rows.append({**s, "flops": flops, "seconds": best, "flops_per_s": flops / best})
        flops_sum += s["count"] * flops
        seconds_sum += s["count"] * best
    return {"tokens": tokens, "shapes": rows, "peak_flops_per_s": flops_sum / seconds_sum,
            "best_shape_flops_per_s": max(r["flops_per_s"] for r in rows)}  # fmt: skip


# ---- start-up -------------------------------------------------------------------------------
def since_process_start() -> float | None:
    """Seconds since this process started (Linux ``/proc``; None elsewhere)."""
    try:
        start = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return round(uptime - start / os.sysconf("SC_CLK_TCK"), 3)


def cli_process_seconds(argv: list[str]) -> float:
    """Wall seconds of ``python -m obliviate ARGV`` as a whole process."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "obliviate", *argv], capture_output=True, check=True)
    return round(time.perf_counter() - t0, 3)


# ---- data -------------------------------------------------------------------------------------
def lengthen(records: list[Any], filler: str) -> list[Any]:
    """QA records with ``filler`` before each question (``--seq``: the formatter then cuts every
    prompt from the left to ``model.max_length``, so each example has exactly that length)."""
    return [
        dataclasses.replace(r, question=f"{filler} {r.question}") if hasattr(r, "question") else r
        for r in records
    ]


def _build(cfg: Any, seq: int) -> tuple[Any, Any, Any, Any, dict[str, float]]:
    """(data, formatter, model, tokenizer, seconds of each part) of ``cfg`` on this device."""
    from .benchmarks import load_benchmark
    from .distributed import local_device
    from .formatting import Formatter, chat_settings
    from .models.loading import load_pretrained
    from .models.tiny import build_tiny_model, train_tokenizer

    times: dict[str, float] = {}
    t0 = time.perf_counter()
    data = load_benchmark(cfg.benchmark)
    times["data_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    m = cfg.model
    if m.name_or_path == "tiny":
        tok = train_tokenizer(data.tokenizer_texts(), m.tokenizer_vocab)
        times["tokenizer_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        model = build_tiny_model(tok, m.tiny_preset, seed=cfg.run.seed)
    else:
        model, tok = load_pretrained(m.name_or_path, m.dtype, m.trust_remote_code)
    model = model.to(local_device())
    times["model_s"] = time.perf_counter() - t0
    system, args = chat_settings(cfg)
    fmt = Formatter(tok, m.template, m.max_length, system, cfg.eval.protocol, args)
    if seq:
        filler = " ".join(data.tokenizer_texts())[: 8 * seq]  # > seq tokens: a token ≤ 8 chars
        data = dataclasses.replace(
            data, finetune=lengthen(data.finetune, filler), forget=lengthen(data.forget, filler),
            retain=lengthen(data.retain, filler),
        )  # fmt: skip
    return data, fmt, model, tok, times


# ---- passes -----------------------------------------------------------------------------------
def _row(name: str, training: bool, counter: TokenCounter, seconds: float, n_params: int,
         **extra: Any) -> dict[str, Any]:  # fmt: skip
    flops = pass_flops(n_params, counter.real, training)
    return {
        "pass": name, "training": training, "seconds": round(seconds, 4),
        "forwards": counter.forwards, "real_tokens": counter.real,
        "padded_tokens": counter.padded,
        "real_tokens_per_s": counter.real / seconds, "padded_tokens_per_s": counter.padded / seconds,
        "real_share": counter.real / counter.padded if counter.padded else 0.0,
        "flops_per_token": (6 if training else 2) * n_params, "flops": flops,
        "flops_per_s": flops / seconds, **extra,
    }  # fmt: skip


def train_pass(name: str, cfg: Any, data: Any, fmt: Any, model: Any, steps: int, batch: int,
               n_params: int) -> dict[str, Any]:  # fmt: skip
    """One training pass (module docstring): a 1-step warm-up, then ``steps`` timed steps."""
    from .methods import get_method_class
    from .recipe import unlearn

    method_name = "sft" if name == "finetune" else name
    section = "finetune" if name == "finetune" else "unlearn"
    base = getattr(cfg, section)
    params = dict(cfg.unlearn.params) if cfg.unlearn.method == method_name else {}
    forget = data.finetune if name == "finetune" else data.forget
    device = next(model.parameters()).device
    row: dict[str, Any] = {}
    for warm in (True, False):
        tcfg = dataclasses.replace(base, max_steps=1 if warm else steps,
                                   batch_size=batch or base.batch_size, log_every=10**9,
                                   checkpoint_every=0)  # fmt: skip
        trained = copy.deepcopy(model)
        counter = TokenCounter(trained, fmt.pad_id, training=True)
        try:
            out = unlearn(get_method_class(method_name)(params), trained, data, fmt, tcfg,
                          seed=cfg.run.seed, section=section, forget=forget, device=device,
                          batch_size=cfg.eval.batch_size, desc=f"bench {name}")  # fmt: skip
        finally:
            counter.close()
        assert out.result is not None
        row = _row(name, True, counter, out.result.seconds, n_params, steps=out.result.steps,
                   batch_size=tcfg.batch_size, trainer_tokens=out.result.tokens)  # fmt: skip
        del trained
    return row


def eval_pass(name: str, cfg: Any, data: Any, fmt: Any, model: Any, tok: Any, batches: int,
              n_params: int) -> dict[str, Any]:  # fmt: skip
    """``score`` or ``generate`` over ``batches`` eval batches, after an untimed warm-up batch."""
    from .eval.scoring import score
    from .generation.hf import generate

    bs = cfg.eval.batch_size
    device = next(model.parameters()).device
    if name == "score":
        items = [fmt.encode_record(r) for r in data.finetune]

        def run(xs: list[Any]) -> None:
            score(model, xs, fmt.pad_id, batch_size=bs, device=device)
    else:
        records = [r for s in data.eval_sets.values() for r in s.records if hasattr(r, "question")]
        items = [fmt.prompt_ids(r.question) for r in records]

        def run(xs: list[Any]) -> None:
            generate(model, tok, xs, batch_size=bs, max_new_tokens=cfg.eval.max_new_tokens,
                     device=device, stop_ids=fmt.stop_ids)  # fmt: skip

    if not items:
        raise ValueError(f"bench throughput {name}: the benchmark has no items for it")
    want = bs * batches
    items = (items * (want // len(items) + 1))[:want]
    counter = TokenCounter(model, fmt.pad_id, training=False)
    try:
        run(items[:bs])
        counter.reset()
        t0 = time.perf_counter()
        run(items)
        seconds = time.perf_counter() - t0
    finally:
        counter.close()
    extra = {"items": len(items), "batch_size": bs}
    if name == "generate":
        extra["max_new_tokens"] = cfg.eval.max_new_tokens
    return _row(name, False, counter, seconds, n_params, **extra)


# ---- the command ------------------------------------------------------------------------------
def machine(threads: int) -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA), torch {torch.__version__}"
    return (f"{platform.machine()} CPU, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{threads} thread(s)")  # fmt: skip


def bench_throughput(
    config: str | None = None,
    overrides: list[str] | None = None,
    passes: list[str] | None = None,
    steps: int = 10,
    batch: int = 0,
    seq: int = 0,
    eval_batches: int = 2,
    threads: int = 0,
    profile: str = "auto",
    out: str | None = None,
) -> dict[str, Any]:
    """Run the passes (module docstring) and write ``<out>.md`` + ``.json`` (default
    ``<run.out_dir>/bench_throughput/throughput.md``); ``batch`` 0: each section's batch size;
    ``seq`` > 0: every training / scoring example cut to exactly ``seq`` tokens; ``profile``:
    ``auto`` (a training pass under 70 % of the peak), ``always`` or ``never``."""
    started = since_process_start()
    t0 = time.perf_counter()
    import torch
    import transformers.models.llama.modeling_llama  # noqa: F401  (the tiny preset's model)

    from . import recipe  # noqa: F401  (training, the methods)
    from .config import load_config, to_dict
    from .eval import scoring  # noqa: F401
    from .generation import hf  # noqa: F401

    imports_s = time.perf_counter() - t0
    passes = passes or list(PASSES)
    unknown = sorted(set(passes) - set(PASSES))
    if unknown:
        from .errors import ObliviateError

        raise ObliviateError(f"bench throughput: unknown pass {unknown}; accepted: {PASSES}")
    if threads:
        torch.set_num_threads(threads)
    cfg = load_config(config, [*(overrides or []), *([f"model.max_length={seq}"] if seq else [])])
    data, fmt, model, tok, built = _build(cfg, seq)
    n_params = flop_params(model)
    rows = []
    for name in passes:
        if name in TRAIN_PASSES:
            rows.append(train_pass(name, cfg, data, fmt, model, steps, batch, n_params))
        else:
            rows.append(eval_pass(name, cfg, data, fmt, model, tok, eval_batches, n_params))
    train_rows = [r for r in rows if r["training"]] or rows
    tokens = round(statistics.mean(r["padded_tokens"] / max(r["forwards"], 1) for r in train_rows))
    peak = matmul_peak(linear_shapes(model), max(tokens, 1))
    for r in rows:
        r["peak_ratio"] = r["flops_per_s"] / peak["peak_flops_per_s"]
    snapshot = to_dict(cfg)
    out_path = Path(out) if out else Path(cfg.run.out_dir) / "bench_throughput" / "throughput.md"
    report: dict[str, Any] = {
        "machine": machine(torch.get_num_threads()),
        "threads": torch.get_num_threads(),
        "model": {
            "name_or_path": cfg.model.name_or_path,
            "tiny_preset": cfg.model.tiny_preset,
            "params": sum(p.numel() for p in model.parameters()),
            "flop_params": n_params,
            "max_length": cfg.model.max_length,
        },  # fmt: skip
        "benchmark": cfg.benchmark.name,
        "settings": {
            "steps": steps,
            "batch": batch,
            "seq": seq,
            "eval_batches": eval_batches,
            "overrides": list(overrides or []),
            "config": config,
        },  # fmt: skip
        "startup": {
            "process_start_to_bench_s": started,
            "imports_s": round(imports_s, 3),
            **{k: round(v, 3) for k, v in built.items()},
            "cli_list_methods_process_s": cli_process_seconds(["list", "methods"]),
        },
        "peak": peak,
        "passes": rows,
        "profile": None,
        "config_snapshot": {k: snapshot[k] for k in ("model", "finetune", "unlearn", "eval")},
    }
    slow = [r for r in rows if r["training"] and r["peak_ratio"] < PROFILE_BELOW]
    if profile == "always" or (profile == "auto" and slow):
        from .bench_profile import profile_training, render_profile

        prof = profile_training(cfg, data, fmt, model, min(steps, 5), batch)
        prof_path = out_path.with_name(out_path.stem + ".profile.md")
        write_atomic(prof_path, render_profile(prof) + "\n")
        write_json(prof_path.with_suffix(".json"), prof)
        report["profile"] = {"path": str(prof_path), "shares": prof["shares"]}
    write_atomic(out_path, render(report) + "\n")
    write_json(out_path.with_suffix(".json"), report)
    report["out"] = str(out_path)
    return report


def _g(x: float) -> str:
    return f"{x / 1e9:.2f}"


def render(report: dict[str, Any]) -> str:
    """The markdown table (one row per pass) and the start-up / peak lines."""
    m, st, pk = report["model"], report["startup"], report["peak"]
    lines = [
        f"Machine: {report['machine']}. Model: {m['name_or_path']} "
        f"({m['params'] / 1e6:.2f}M parameters, N = {m['flop_params'] / 1e6:.2f}M counted), "
        f"{report['benchmark']}, max_length {m['max_length']}.",
        "",
        "| pass | steps / items | batch | real tokens | padded tokens | real tok/s | padded tok/s "
        "| real / padded | GFLOP/s (real tokens) | of matmul peak |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["passes"]:
        lines.append(
            f"| {r['pass']} | {r.get('steps', r.get('items'))} | {r['batch_size']} | "
            f"{r['real_tokens']} | {r['padded_tokens']} | {r['real_tokens_per_s']:.0f} | "
            f"{r['padded_tokens_per_s']:.0f} | {r['real_share']:.2f} | {_g(r['flops_per_s'])} | "
            f"{100 * r['peak_ratio']:.1f}% |"
        )
    shapes = ", ".join(f"[{pk['tokens']}×{s['k']}]·[{s['k']}×{s['n']}] ×{s['count']}: "
                       f"{_g(s['flops_per_s'])}" for s in pk["shapes"])  # fmt: skip
    lines += [
        "",
        f"Matmul peak (this process, fwd+bwd-like, the model's shapes): "
        f"{_g(pk['peak_flops_per_s'])} GFLOP/s FLOP-weighted, best shape "
        f"{_g(pk['best_shape_flops_per_s'])} GFLOP/s ({shapes}).",
        "FLOPs: 6·N per real token in training, 2·N forward only (N: every parameter but the "
        "input embedding, the LM head once).",
        "Start-up: " + ", ".join(f"{k} {v}" for k, v in st.items()) + ".",
    ]
    if report["profile"]:
        shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in report["profile"]["shares"].items())
        lines.append(f"Training loop profile (`{report['profile']['path']}`): {shares}.")
    return "\n".join(lines)
