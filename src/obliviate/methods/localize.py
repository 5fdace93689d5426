"""MemFlex knowledge localisation (Tian et al. 2024, "To Forget or Not? Towards Practical
Knowledge Unlearning for Large Language Models", KnowUnDo ``pretrain/localization.py``; SPEC 4.1).

For each split s ∈ {forget ("unlearn"), retain ("retention")}: every training item is replicated
``num_copies`` times and each copy's answer is corrupted independently: ⌊(L − q)/2⌋ answer
positions (L − q answer tokens, EOS excluded; drawn with replacement) get uniform random
non-special token ids, in the input and in the labels alike. With the model in eval mode the
per-item mean NLL is back-propagated and the fp32 gradients of every trainable tensor are
averaged over the items:

    G_s[k] = (1/N_s) Σ_i ∇_k NLL_mean(item_i)

(one backward per batch of Σ_i NLL_mean(item_i) / N_s gives the same sum as KUD's bs-1 loop).
Per tensor k: c_k = cos(vec G_forget[k], vec G_retain[k]) (0 when either is all-zero, sklearn's
convention), m_k = mean |G_forget[k]|; region = {k : c_k < μ ∧ m_k > σ}, μ = ``sim_thresh`` = 0.92,
σ = ``grad_thresh`` = 6e-4, whole tensors only; the retain magnitude is reported, not used.

The candidates are the tensors trainable under the unlearn scope: with ``unlearn.scope=lora``
the LoRA A/B tensors as in KUD (a fresh adapter has B = 0, so every A gradient is zero and only B
tensors can be selected); under ``full``/``layers`` the model's own tensors. SPEC 8 item 17: the
thresholds are floats and only the training records are used.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..formatting import IGNORE_INDEX, Encoded, collate_right
from ..models.batches import batches, eval_mode
from ..models.scope import named_parameters
from .base import forward_logits
from .losses import sequence_nll


@dataclass
class LocalizeParams:
    RANGES = {
        "sim_thresh": "[-1, 1]",
        "grad_thresh": ">= 0",
        "num_copies": ">= 1",
    }  # not a field: value ranges checked at config load (obliviate.checks)
    sim_thresh: float = 0.92  # μ: a tensor is selected only if cos(G_f, G_r) < μ
    grad_thresh: float = 6e-4  # σ: ... and mean |G_f| > σ
    num_copies: int = 3  # corrupted copies of every item
    seed: int = 42  # corruption RNG

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> LocalizeParams:
        """The localisation settings found among a method's parameters (e.g. ``memflex``)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in names})


@dataclass
class Region:
    names: list[str]
    stats: dict[str, dict[str, Any]]
    params: LocalizeParams
    n_forget: int
    n_retain: int

    def to_json(self) -> dict[str, Any]:
        return {
            "source": "MemFlex localisation (SPEC 4.1)",
            **dataclasses.asdict(self.params),
            "n_forget_items": self.n_forget,
            "n_retain_items": self.n_retain,
            "region": self.names,
            "tensors": self.stats,
        }


def corrupt(
    enc: Encoded, rng: random.Random, vocab_size: int, special: set[int], eos_id: int | None
) -> Encoded:
    """KUD's random-label copy: ⌊n/2⌋ draws (with replacement) over the n answer positions
    (EOS excluded), each replaced by a uniform random non-special id in input and label."""
    ids, labels = list(enc.input_ids), list(enc.labels)
    span = [i for i, lab in enumerate(labels) if lab != IGNORE_INDEX]
    if span and eos_id is not None and ids[span[-1]] == eos_id:
        span = span[:-1]
    for _ in range(len(span) // 2):
        pos = rng.choice(span)
        tok = rng.randrange(vocab_size)
        while tok in special:
            tok = rng.randrange(vocab_size)
        ids[pos] = labels[pos] = tok
    return Encoded(ids, labels)


def mean_gradients(
    model: torch.nn.Module,
    encoded: Sequence[Encoded],
    pad_id: int,
    batch_size: int = 16,
    device: torch.device | str = "cpu",
) -> dict[str, torch.Tensor]:
    """G[k] = (1/N) Σ_i ∇_k NLL_mean(item_i) in fp32 for every trainable tensor k (eval mode).

    ``torch.autograd.grad`` is used, so the parameters' ``.grad`` are never touched.
    """
    params = [(n, p) for n, p in named_parameters(model) if p.requires_grad]
    sums = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params}
    collate = lambda chunk: collate_right(chunk, pad_id)  # noqa: E731
    with eval_mode(model, grad=True):
        for _, batch in batches(encoded, batch_size, collate, device, sort=False):
            nll = sequence_nll(forward_logits(model, batch), batch["labels"], "seq_mean")
            grads = torch.autograd.grad(
                nll.sum() / len(encoded), [p for _, p in params], allow_unused=True
            )
            for (name, _), g in zip(params, grads):
                if g is not None:
                    sums[name] += g.float()
    return sums


def tensor_stats(
    g_forget: dict[str, torch.Tensor], g_retain: dict[str, torch.Tensor]
) -> dict[str, dict[str, Any]]:
    """Per tensor: cosine of the forget and retain mean gradients and their mean |·|."""
    out: dict[str, dict[str, Any]] = {}
    for name, gf in g_forget.items():
        gr = g_retain[name]
        a, b = gf.flatten().double(), gr.flatten().double()
        denom = a.norm() * b.norm()
        cos = float(a @ b / denom) if denom > 0 else 0.0
        out[name] = {
            "cos": cos,
            "grad_mean_abs": float(a.abs().mean()),
            "retain_grad_mean_abs": float(b.abs().mean()),
            "numel": gf.numel(),
        }
    return out


def select_region(
    stats: dict[str, dict[str, Any]], sim_thresh: float, grad_thresh: float
) -> list[str]:
    """{k : c_k < μ ∧ m_k > σ}, in the model's parameter order."""
    return [
        name
        for name, s in stats.items()
        if s["cos"] < sim_thresh and s["grad_mean_abs"] > grad_thresh
    ]


def localize(
    model: torch.nn.Module,
    forget: Sequence[Encoded],
    retain: Sequence[Encoded],
    formatter: Any,
    params: LocalizeParams | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 16,
) -> Region:
    """The MemFlex region of ``model``'s trainable tensors (see the module docstring)."""
    params = params or LocalizeParams()
    rng = random.Random(params.seed)
    tok = formatter.tok
    special = set(tok.all_special_ids)
    vocab = len(tok)

    def copies(items: Sequence[Encoded]) -> list[Encoded]:
        return [
            corrupt(e, rng, vocab, special, formatter.eos_id)
            for e in items
            for _ in range(params.num_copies)
        ]

    forget_c, retain_c = copies(forget), copies(retain)
    g_f = mean_gradients(model, forget_c, formatter.pad_id, batch_size, device)
    g_r = mean_gradients(model, retain_c, formatter.pad_id, batch_size, device)
    stats = tensor_stats(g_f, g_r)
    names = select_region(stats, params.sim_thresh, params.grad_thresh)
    for name in stats:
        stats[name]["selected"] = name in names
    return Region(names, stats, params, len(forget_c), len(retain_c))
