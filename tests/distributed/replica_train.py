"""``replica_train.py OUT.json``, launched on several processes: a few steps of SURE and of
MemFlex-iterative on a nano model through the pipeline's recipe, each twice: as shipped, and
with the ranks' diagnostic gradients left un-averaged (the control: the pre-fix behaviour).
Rank 0 writes, per run, how many parameter elements differ between the ranks' replicas."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "methods"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conftest import TEXTS  # noqa: E402
from unlearn_helpers import small_data  # noqa: E402

from obliviate import distributed  # noqa: E402
from obliviate.config import TrainConfig  # noqa: E402
from obliviate.formatting import Formatter  # noqa: E402
from obliviate.methods import get_method_class  # noqa: E402
from obliviate.models.tiny import build_tiny_model, train_tokenizer  # noqa: E402
from obliviate.recipe import unlearn  # noqa: E402

RUNS = {
    "sure": {"base": "gd", "percentile": 90.0},
    "memflex_iterative": {"sim_thresh": 0.99, "grad_thresh": 1e-4},
}


def run(method: str, params: dict, average: bool) -> dict:
    tok = train_tokenizer(TEXTS, vocab_size=300)
    fmt = Formatter(tok, "qa-tags", max_length=64)
    model = build_tiny_model(tok, "nano", seed=0)
    # the shuffled order: with length grouping the two ranks' 4 steps over these few examples
    # happen to give memflex's un-averaged control equal (empty) masks, and the control must
    # show that per-rank masks can diverge
    cfg = TrainConfig(max_steps=4, lr=1e-2, batch_size=2, log_every=1, group_by_length=False)
    real = distributed.all_reduce_mean_
    if not average:
        distributed.all_reduce_mean_ = lambda tensors: None
    try:
        out = unlearn(get_method_class(method)(params), model, small_data(), fmt, cfg, seed=0,
                      batch_size=4)  # fmt: skip
    finally:
        distributed.all_reduce_mean_ = real
    flat = torch.cat([p.detach().reshape(-1) for p in out.model.parameters()])
    replicas = distributed.gather_objects(flat)
    diff = (replicas[0] - replicas[1]).abs()
    return {"method": method, "averaged": average, "numel": flat.numel(),
            "differ": int((diff > 0).sum()), "max_diff": float(diff.max()),
            "log": out.result.log}  # fmt: skip


def main() -> None:
    torch.set_num_threads(1)
    distributed.process_state()
    results = [run(m, p, avg) for m, p in RUNS.items() for avg in (True, False)]
    if distributed.is_main():
        Path(sys.argv[1]).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
