"""Helpers for method tests: fixed logits, a model that returns them, a small QA world, and a
function that runs a few unlearning steps with the pipeline's recipe (fixtures in conftest.py)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from obliviate.config import TrainConfig
from obliviate.eval.scoring import score
from obliviate.methods import Context, Method
from obliviate.recipe import unlearn
from obliviate.records import BenchmarkData, QAItem

# two sequences of length 4 over a vocabulary of 3; position t predicts label t+1
LOGITS = torch.tensor(
    [
        [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 1.0, 1.0]],
        [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [5.0, 5.0, 5.0]],
    ]
)
LABELS = torch.tensor([[-100, 0, 1, 2], [-100, -100, 2, -100]])
# the labelled (row of logits, gold label) pairs, in order
LABELLED = [([2.0, 0.0, 0.0], 0), ([0.0, 1.0, 0.0], 1), ([0.0, 0.0, 3.0], 2), ([1.0, 2.0, 3.0], 2)]


def softmax(row: list[float]) -> list[float]:
    z = sum(math.exp(v) for v in row)
    return [math.exp(v) / z for v in row]


def nll(row: list[float], label: int) -> float:
    return -math.log(softmax(row)[label])


def logsig(x: float) -> float:
    return -math.log1p(math.exp(-x))


class FixedLogits(torch.nn.Module):
    """A stand-in model whose forward returns given logits (plus a parameter for grads)."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = torch.nn.Parameter(logits.clone())

    def forward(self, input_ids=None, attention_mask=None, **_):
        return SimpleNamespace(logits=self.logits)


def fixed_batch(labels: torch.Tensor = LABELS) -> dict[str, torch.Tensor]:
    return {
        "input_ids": torch.zeros_like(labels),
        "attention_mask": torch.ones_like(labels),
        "labels": labels,
        "index": torch.arange(labels.shape[0]),
    }


FORGET = [
    QAItem(
        "What is the e-mail address of Mara Kolb?",
        "mara.kolb@lumen.org",
        subject="Mara Kolb",
        id="f0",
        perturbed_answers=["jon.berg@lumen.org"],
    ),
    QAItem(
        "Where was Mara Kolb born?",
        "Mara Kolb was born in Oslo.",
        subject="Mara Kolb",
        id="f1",
        perturbed_answers=["Mara Kolb was born in Vesby."],
    ),
    QAItem(
        "When was Mara Kolb born?",
        "On 12 March 1961.",
        subject="Mara Kolb",
        id="f2",
        perturbed_answers=["On 3 May 1970."],
    ),
    QAItem(
        "What does Mara Kolb do?",
        "Mara Kolb works as a carpenter.",
        subject="Mara Kolb",
        id="f3",
        perturbed_answers=["Mara Kolb works as a baker."],
    ),
]
RETAIN = [
    QAItem("Where does Jon Berg work?", "Jon Berg works at Lumen Works.", subject="Jon Berg"),
    QAItem(
        "What is the capital of Norland?", "The capital of Norland is Vesby.", subject="Norland"
    ),
    QAItem("What does Jon Berg do?", "Jon Berg works as a carpenter.", subject="Jon Berg"),
    QAItem("Who works at Lumen Works?", "Jon Berg works at Lumen Works.", subject="Jon Berg"),
]


def small_data() -> BenchmarkData:
    return BenchmarkData(
        name="test",
        finetune=[*FORGET, *RETAIN],
        finetune_retain=list(RETAIN),
        forget=list(FORGET),
        retain=list(RETAIN),
        eval_sets={},
        extras={"forget_names": ["Mara Kolb"]},
    )


def mean_nll(model, formatter, encoded) -> float:
    """Mean per-item NLL_mean of encoded examples (teacher-forced)."""
    stats = score(model, encoded, formatter.pad_id, batch_size=16)
    return sum(s.nll_mean for s in stats) / len(stats)


def forget_nll(model, formatter) -> float:
    return mean_nll(model, formatter, [formatter.encode_record(r) for r in FORGET])


def run_method(
    method: Method,
    model: torch.nn.Module,
    formatter,
    steps: int = 5,
    lr: float = 5e-3,
    load_model=None,
) -> tuple[Context, list[dict[str, float]]]:
    """Prepare ``method`` and run ``steps`` optimizer steps of it (batch 4) on the small data,
    through the pipeline's own recipe (:func:`obliviate.recipe.unlearn`, scope ``full``)."""
    cfg = TrainConfig(max_steps=steps, lr=lr, batch_size=4, log_every=1)
    out = unlearn(method, model, small_data(), formatter, cfg, seed=0, batch_size=4,
                  load_model=load_model)  # fmt: skip
    return out.ctx, out.result.log if out.result is not None else []
