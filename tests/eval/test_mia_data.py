"""The synthkb MIA pair is exposure-matched: no retain fact names a forget target."""

from __future__ import annotations

import re

from obliviate.benchmarks import synthkb


def test_retain_split_never_names_a_forget_target() -> None:
    for seed in (0, 1, 2):
        data = synthkb.build(num_people=40, seed=seed)
        blob = "\n".join(t for r in data.finetune_retain for t in (r.question, r.answer))
        for name in data.extras["forget_names"]:
            assert not re.search(rf"\b{re.escape(name)}\b", blob), (seed, name)
        holdout = {p.name for p in data.extras["world"].holdout}
        assert not any(re.search(rf"\b{re.escape(n)}\b", blob) for n in holdout)
