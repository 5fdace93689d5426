"""``obliviate bench memory MODEL``: per-rank training memory, estimated and (on CPU) measured.

Estimate per rank, P parameters (P_t trainable), W ranks, AdamW with fp32 master weights:

- weights: 4·P bytes (fp32 masters; 2·P for a 16-bit ``model.dtype`` without mixed precision);
  ZeRO-3 / FSDP shard them: ÷ W;
- gradients: 4·P_t (ZeRO-2, ZeRO-3, FSDP: ÷ W); optimizer states: 8·P_t (exp_avg, exp_avg_sq;
  ZeRO-2/3, FSDP: ÷ W);
- reference: a frozen copy (``--reference``) in the model dtype, sharded like the model;
- activations per layer of a Llama block, B·T tokens of width h, s bytes per element
  (Korthikanti et al. 2022, "Reducing Activation Recomputation", eq. 2, adapted to SwiGLU and
  SDPA attention, which keeps no T×T scores): ≈ B·T·(16·h + 3·i)·s/2 with i the MLP width
  (s = 2 under bf16 autocast, 4 in fp32); with gradient checkpointing only each layer's input
  (B·T·h·s) plus one layer's full activations;
- logits: the loss keeps ≈ 3 fp32 tensors of K·B·V (logits, their fp32 copy, the
  log-softmax / cross-entropy gradient), K = T for full logits, K = the answer positions with
  ``methods.base.forward_logits`` (logits only from the earliest label on).

``--measure`` (CPU, fp32): each variant in a fresh process, the peak resident memory
(``ru_maxrss``) of the training loss's forward + backward minus the resident memory after
loading the model (weights excluded; gradients, activations, logits included): the numbers of
one invocation compare with each other (same machine, same libraries).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass

import torch

ENGINES = ("ddp", "zero2", "zero3", "fsdp")
# a ~100M-parameter Llama (the size the CPU measurements use)
BENCH_100M = dict(vocab_size=32000, hidden_size=768, intermediate_size=2048,
                  num_hidden_layers=8, num_attention_heads=12, num_key_value_heads=12,
                  max_position_embeddings=2048, tie_word_embeddings=True)  # fmt: skip


@dataclass
class Shape:
    params: int
    hidden: int
    inter: int
    layers: int
    vocab: int


def model_config(name: str):
    """A transformers config: ``bench-100m``, a tiny preset or a local path / hub id."""
    from transformers import AutoConfig, LlamaConfig

    from .models.tiny import TINY_PRESETS

    if name == "bench-100m":
        return LlamaConfig(**BENCH_100M)
    if name in TINY_PRESETS:
        return LlamaConfig(vocab_size=2048, max_position_embeddings=1024, **TINY_PRESETS[name])
    return AutoConfig.from_pretrained(name)


def shape_of(config) -> Shape:
    """Parameter count (built on the meta device: no memory) and the dimensions."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    params = sum(p.numel() for p in model.parameters())
    return Shape(params, config.hidden_size, config.intermediate_size, config.num_hidden_layers,
                 config.vocab_size)  # fmt: skip


def estimate(shape: Shape, engine: str = "ddp", world: int = 1, batch: int = 4, seq: int = 512,
             answer: int = 32, mixed: bool = True, checkpointing: bool = False,
             reference: bool = False, full_logits: bool = False) -> dict[str, float]:  # fmt: skip
    """Per-rank MiB of each part (see the module docstring)."""
    shard_w = world if engine in ("zero3", "fsdp") else 1
    shard_o = world if engine in ("zero2", "zero3", "fsdp") else 1
    p = shape.params
    s = 2 if mixed else 4
    tokens = batch * seq
    per_layer = tokens * (16 * shape.hidden + 3 * shape.inter) * s / 2
    if checkpointing:
        acts = shape.layers * tokens * shape.hidden * s + per_layer
    else:
        acts = shape.layers * per_layer
    keep = seq if full_logits else answer + 1
    parts = {
        "weights": 4 * p / shard_w,
        "grads": 4 * p / shard_o,
        "optimizer": 8 * p / shard_o,
        "reference": (2 if mixed else 4) * p / shard_w if reference else 0.0,
        "activations": acts,
        "logits": 3 * 4 * batch * keep * shape.vocab,
    }
    mib = {k: v / 2**20 for k, v in parts.items()}
    mib["total"] = sum(mib.values())
    return mib


# ---- measurement on CPU ---------------------------------------------------------------------
VARIANTS = {
    "baseline (full logits)": {"full_logits": True},
    "labelled logits": {},
    "labelled logits + checkpointing": {"checkpointing": True},
}


def measure_one(name: str, batch: int, seq: int, answer: int, full_logits: bool,
                checkpointing: bool) -> dict[str, float]:  # fmt: skip
    """One variant in this process: the training loss's forward + backward (the part whose
    memory the logits and checkpointing switches change; the optimizer step's is the same in
    every variant). Peak RSS minus RSS after loading (MiB) and the loss."""
    import resource

    from transformers import AutoModelForCausalLM

    import obliviate.models.batches as batches

    from .formatting import IGNORE_INDEX, Encoded, collate_right
    from .methods.base import forward_logits
    from .methods.losses import sequence_nll
    from .train_memory import checkpointing as ckpt

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_config(model_config(name)).train()
    gen = torch.Generator().manual_seed(0)
    examples = []
    for _ in range(batch):
        ids = torch.randint(5, model.config.vocab_size, (seq,), generator=gen).tolist()
        examples.append(Encoded(ids, [IGNORE_INDEX] * (seq - answer) + ids[seq - answer :]))
    fb = collate_right(examples, 0)
    if full_logits:
        batches.labelled_window = lambda labels: labels.shape[1]
    rss0 = _rss_mib()
    with ckpt(model, checkpointing):
        loss = sequence_nll(forward_logits(model, fb), fb["labels"])
        loss.backward()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"peak_minus_loaded_mib": round(peak - rss0, 1), "loss": float(loss)}


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(name: str, batch: int, seq: int, answer: int) -> dict[str, dict[str, float]]:
    """Every variant in a fresh process (peak RSS is per process)."""
    out = {}
    for label, kw in VARIANTS.items():
        args = dict(name=name, batch=batch, seq=seq, answer=answer,
                    full_logits=kw.get("full_logits", False),
                    checkpointing=kw.get("checkpointing", False))  # fmt: skip
        code = ("import json, sys; from obliviate.bench_memory import measure_one; "
                f"print('RESULT', json.dumps(measure_one(**{args!r})))")  # fmt: skip
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True)  # fmt: skip
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
        out[label] = json.loads(line[len("RESULT ") :])
    return out


def render(name: str, shape: Shape, est: dict[str, float], args: dict) -> str:
    lines = [f"model {name}: {shape.params / 1e6:.1f}M parameters ({asdict(shape)})",
             "per-rank estimate (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in est.items()),
             f"settings: {args}"]  # fmt: skip
    return "\n".join(lines)
