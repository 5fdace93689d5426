"""Fine-tuning with random labels (KnowUnDo baseline "FT w/ random labels"), SPEC 3.2.

Every labelled answer position whose gold token is not a special token gets a label drawn
uniformly from the non-special vocabulary with a seeded generator, once, before training; the
model then descends L = CE_batch(random labels | forget input). The input ids stay the true text
(teacher forcing on the original answer). KUD relabels the prompt too (SPEC 8 item 20); here only
answer positions change, and special tokens (EOS) keep their label. KUD: seed 42, bs 1 × ga 16,
lr 5e-5, 2 epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..formatting import IGNORE_INDEX, Encoded
from .base import register
from .sft import ForgetSFT


def random_labels(
    labels: list[int], special_ids: list[int], vocab_size: int, gen: torch.Generator
) -> list[int]:
    """Replace each labelled, non-special label by a uniform draw from the non-special ids."""
    allowed = torch.ones(vocab_size, dtype=torch.bool)
    allowed[special_ids] = False
    candidates = allowed.nonzero().squeeze(1)
    y = torch.tensor(labels)
    relabel = (y != IGNORE_INDEX) & ~torch.isin(y, torch.tensor(special_ids, dtype=torch.long))
    y[relabel] = candidates[torch.randint(len(candidates), (int(relabel.sum()),), generator=gen)]
    return y.tolist()


@dataclass
class RandomLabelParams:
    seed: int = 42


@register
class RandomLabel(ForgetSFT):
    name = "random_label"
    description = "fine-tune the forget answers toward uniformly random labels (KnowUnDo)"
    Params = RandomLabelParams

    def build_forget(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        gen = torch.Generator().manual_seed(self.p.seed)
        special, vocab = list(formatter.tok.all_special_ids), len(formatter.tok)
        out = []
        for rec in records:
            enc = formatter.encode_record(rec)
            out.append(Encoded(enc.input_ids, random_labels(enc.labels, special, vocab, gen)))
        return out
