"""Expected values of logged losses at the first training step, computed independently of the
methods: CE_batch (token mean) of encoded examples under a model before any update."""

from __future__ import annotations

from obliviate.eval.scoring import score


def ce_batch(model, formatter, encoded) -> float:
    """CE_batch of ``encoded`` as one batch: Σ NLL over every labelled token / their count."""
    stats = score(model, encoded, formatter.pad_id, batch_size=16)
    return -sum(float(s.logprobs.sum()) for s in stats) / sum(len(s.logprobs) for s in stats)
