"""Quantisation attack (Zhang et al. 2024, "Catastrophic failure of LLM unlearning via
quantization", arXiv 2410.16454): quantise the unlearned weights and evaluate again.

Round-to-nearest (RTN), asymmetric, per group of ``g`` consecutive input columns of each linear
weight W (rows = output units), b bits, as in GPTQ/AWQ's RTN baseline:

    s = (max(w) − min(w)) / (2^b − 1),  z = round(−min(w) / s),
    q = clamp(round(w / s) + z, 0, 2^b − 1),  ŵ = (q − z) · s        (per group)

A group whose values are all equal keeps them (s = 0). Pure torch, any device; the weights are
replaced by ŵ in place (fake quantisation: the arithmetic stays in the model's dtype).
``bnb_int8`` / ``bnb_nf4``: bitsandbytes' LLM.int8() and 4-bit NormalFloat linear layers, CUDA
only (imported on use).
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import ObliviateError


def rtn(weight: torch.Tensor, bits: int, group_size: int) -> torch.Tensor:
    """RTN fake quantisation of a 2-D weight (see the module docstring); ``group_size <= 0``
    or larger than the row: one group per row."""
    if weight.dim() != 2:
        raise ValueError(f"rtn expects a 2-D weight, got shape {tuple(weight.shape)}")
    rows, cols = weight.shape
    g = cols if group_size <= 0 or group_size >= cols else group_size
    w = weight.detach().float()
    pad = (-cols) % g
    if pad:  # the last group is short: pad with its own last value (no effect on min / max)
        w = torch.cat([w, w[:, -1:].expand(rows, pad)], dim=1)
    groups = w.reshape(rows, -1, g)
    lo = groups.amin(dim=-1, keepdim=True)
    hi = groups.amax(dim=-1, keepdim=True)
    levels = 2**bits - 1
    scale = (hi - lo) / levels
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    zero = torch.round(-lo / safe)
    q = torch.clamp(torch.round(groups / safe) + zero, 0, levels)
    deq = torch.where(scale > 0, (q - zero) * safe, groups)
    return deq.reshape(rows, -1)[:, :cols].to(weight.dtype)


def _linears(model: torch.nn.Module, lm_head: bool) -> list[tuple[str, torch.nn.Linear]]:
    """The model's linear layers (the output layer only with ``lm_head`` and untied weights)."""
    out_layer = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    in_layer = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    tied = (out_layer is not None and in_layer is not None
            and out_layer.weight.data_ptr() == in_layer.weight.data_ptr())  # fmt: skip
    found = []
    for name, mod in model.named_modules():
        if not isinstance(mod, torch.nn.Linear):
            continue
        if mod is out_layer and (not lm_head or tied):
            continue
        found.append((name, mod))
    return found


@torch.no_grad()
def quantize_rtn(model: torch.nn.Module, bits: int, group_size: int, lm_head: bool = False) -> int:
    """Replace every linear weight by its RTN fake quantisation; returns the layer count."""
    layers = _linears(model, lm_head)
    for _, mod in layers:
        mod.weight.copy_(rtn(mod.weight, bits, group_size))
    return len(layers)


def quantize_bnb(model: torch.nn.Module, scheme: str, lm_head: bool = False) -> int:
    """Swap the linear layers for bitsandbytes ones (``bnb_int8``: Linear8bitLt, LLM.int8();
    ``bnb_nf4``: Linear4bit, NF4); the model must be on a CUDA device."""
    if not torch.cuda.is_available():
        raise ObliviateError(
            f"attack.quantize.schemes: {scheme} needs CUDA (bitsandbytes); on this machine "
            "use rtn8 / rtn4"
        )
    try:
        import bitsandbytes as bnb
    except ImportError:
        raise ObliviateError(
            f"attack.quantize.schemes: {scheme} needs bitsandbytes: pip install 'obliviate[bnb]'"
        ) from None
    device = next(model.parameters()).device
    if device.type != "cuda":
        raise ObliviateError(
            f"attack.quantize.schemes: {scheme} needs the model on CUDA, not {device}"
        )
    layers = _linears(model, lm_head)
    for name, mod in layers:
        parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
        has_bias = mod.bias is not None
        if scheme == "bnb_int8":
            new = bnb.nn.Linear8bitLt(mod.in_features, mod.out_features, bias=has_bias,
                                      has_fp16_weights=False, threshold=6.0)  # fmt: skip
            new.weight = bnb.nn.Int8Params(mod.weight.data.cpu(), requires_grad=False,
                                           has_fp16_weights=False)  # fmt: skip
        else:
            new = bnb.nn.Linear4bit(mod.in_features, mod.out_features, bias=has_bias,
                                    compute_dtype=mod.weight.dtype, quant_type="nf4")  # fmt: skip
            new.weight = bnb.nn.Params4bit(mod.weight.data.cpu(), requires_grad=False,
                                           quant_type="nf4")  # fmt: skip
        if has_bias:
            new.bias = torch.nn.Parameter(mod.bias.data, requires_grad=False)
        setattr(parent, name.rpartition(".")[2], new.to(device))
    return len(layers)


def quantize(model: torch.nn.Module, scheme: str, group_size: int, lm_head: bool) -> int:
    """Apply ``scheme`` (rtn8, rtn4, bnb_int8, bnb_nf4) to ``model``; returns the layer count."""
    if scheme.startswith("rtn"):
        return quantize_rtn(model, int(scheme[3:]), group_size, lm_head)
    return quantize_bnb(model, scheme, lm_head)


def run(session: Any) -> dict[str, Any]:
    """Each scheme on every attacked model, the forget side evaluated again."""
    q = session.cfg.attack.quantize
    clean = session.clean_all()
    variants: dict[str, Any] = {}
    for scheme in q.schemes:
        attacked = {}
        for role in session.roles:
            model, tok = session.load(role)
            n = quantize(model, scheme, q.group_size, q.lm_head)
            attacked[role] = session.evaluate(
                role, model, tok, rows_dir=session.attack_dir / "quantize" / scheme / role
            )
            del model
        variants[scheme] = {"models": attacked, "layers": n}
    settings = {"schemes": list(q.schemes), "group_size": q.group_size, "lm_head": q.lm_head}
    return {"clean": clean, "variants": variants, "settings": settings}
