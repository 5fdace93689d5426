"""Parameter scopes: which parameters train; everything else stays bit-for-bit unchanged."""

from __future__ import annotations

import re

from torch import nn

from ..errors import ObliviateError


def parse_layer_range(spec: str) -> range:
    """RWKU ``train_layers`` syntax: ``"a-b"`` trains layers a..b-1 (end exclusive)."""
    m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", spec or "")
    if not m or int(m.group(1)) >= int(m.group(2)):
        raise ObliviateError(f"layers={spec!r}: expected 'a-b' with a < b (end exclusive)")
    return range(int(m.group(1)), int(m.group(2)))


def apply_scope(model: nn.Module, scope: str = "full", layers: str = "") -> int:
    """Set ``requires_grad`` per the scope; returns the number of trainable parameters.

    ``full``: every parameter. ``layers``: only parameters whose name contains
    ``layers.{i}.`` for i in the range (embeddings, final norm and lm_head frozen).
    """
    if scope == "full":
        for p in model.parameters():
            p.requires_grad_(True)
    elif scope == "layers":
        keep = parse_layer_range(layers)
        pattern = re.compile(r"layers\.(\d+)\.")
        n_layers = getattr(model.config, "num_hidden_layers", None)
        if n_layers is not None and keep.stop > n_layers:
            raise ObliviateError(f"layers={layers!r} exceeds the model's {n_layers} layers")
        for name, p in model.named_parameters():
            m = pattern.search(name)
            p.requires_grad_(bool(m) and int(m.group(1)) in keep)
    else:
        raise ObliviateError(f"scope={scope!r} is unknown; accepted: full, layers")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
