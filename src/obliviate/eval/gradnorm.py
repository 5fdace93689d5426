"""GradNorm membership-inference scores: one backward pass per item (bs 1), opt-in (SPEC 6.4).

score_i = mean over parameter tensors P of ‖∇_P L_i‖₂ with L_i = −mean_t log p(y_t | x, y_<t)
over the labelled answer positions *excluding the final (EOS) label* (OU ``tokenwise_logprobs``).
Loss-like: higher = less likely a member. Source: Shi et al. / Maini et al. 2024 (MIA on LLMs),
OU ``GradNormAttack`` (p = 2). Differences from OU: the model stays in eval mode (OU switches to
train mode, which only matters with dropout) and its gradients are restored to ``None`` afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..errors import ObliviateError
from ..formatting import IGNORE_INDEX, Encoded
from ..models.batches import eval_mode


def gradnorm_scores(
    model: torch.nn.Module, encoded: Sequence[Encoded], device: torch.device | str = "cpu"
) -> list[float]:
    """GradNorm score of each item (bs 1: a per-item gradient cannot be batched)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ObliviateError("mia_gradnorm: the model has no trainable parameters to differentiate")
    scores: list[float] = []
    with eval_mode(model, grad=True):
        for i, enc in enumerate(encoded):
            ids = torch.tensor([enc.input_ids], device=device)
            labels = torch.tensor([enc.labels], device=device)[:, 1:]
            positions = (labels[0] != IGNORE_INDEX).nonzero().flatten()[:-1]  # drop the EOS label
            if positions.numel() == 0:
                raise ObliviateError(f"mia_gradnorm: item {i} has no answer token before EOS")
            logits = model(input_ids=ids).logits[0, :-1].float()
            lp = F.log_softmax(logits[positions], dim=-1)
            loss = -lp.gather(-1, labels[0, positions].unsqueeze(-1)).mean()
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            norms = [g.norm(p=2) for g in grads if g is not None]
            scores.append(float(torch.stack(norms).mean()))
    return scores
