"""ReLearn's evaluation protocol for KFR / KRR and the linguistic score (``eval.protocol=paper``).

ReLearn (zjunlp/unlearn @ 0800fd24f071a47958295fb1804906365567695c):

- ``evals/generate.py`` ``eval`` (vLLM path, the one ``evals/inf_all.sh`` runs): one sampled
  answer per query with ``SamplingParams(temperature=0.7, top_p=0.9, top_k=5, max_tokens=128)``;
  ``while True`` over at most ``max_iterations = 3`` passes, each regenerating only the queries
  whose ``generated_response`` is still ``""``.
- ``evals/evaluate.py`` ``__main__``: ``random.seed(42)``, then for TOFU files only
  ``forgetdata = random.sample(forgetdata, min(200, len(forgetdata)))`` and, from the same RNG
  stream, the same for the retain file; KnowUnDo sets are scored whole.
- ``compute_ppl``: the *original* chat model (``eval_all.sh``: ``Llama-2-7b-chat-hf``, loaded in
  fp16) scores ``tokenizer(query + response)`` with the first ``len(tokenizer(query))`` labels
  masked (the strings are concatenated before tokenisation).

``fixed`` (obliviate) scores the shared greedy generation pass (``eval.max_new_tokens``) on every
item, with prompt ids + response ids concatenated (SPEC 8 #27) under ``eval.scorer_model``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from typing import Any

RELEARN_SAMPLING: dict[str, Any] = {"do_sample": True, "temperature": 0.7, "top_p": 0.9, "top_k": 5}
RELEARN_MAX_NEW_TOKENS = 128
RELEARN_PASSES = 3  # generate.py max_iterations
RELEARN_TOFU_ITEMS = 200
RELEARN_SEED = 42
RELEARN_METRICS = frozenset({"kfr", "krr", "linguistic_score"})
# TOFU record ids are "<config>/<row>" (benchmarks.tofu); ReLearn samples only TOFU files
_TOFU_ID = re.compile(r"^(forget\d+|retain\d+|holdout\d+|real_authors|world_facts)\w*/\d+$")


def is_tofu(ids: Sequence[str]) -> bool:
    """Whether a set's record ids are TOFU's (``forget10/0`` ...)."""
    return bool(ids) and all(_TOFU_ID.match(i) for i in ids)


def relearn_indices(n_set: int, forget_like: bool, n_forget: int | None = None) -> list[int]:
    """The items ReLearn scores of a TOFU set of ``n_set`` items: ``random.seed(42)``, the
    forget file's ``random.sample`` first, then the retain file's from the same stream
    (``n_forget``: the forget set's size; unknown: the retain draw starts from a fresh seed)."""
    rng = random.Random(RELEARN_SEED)
    if not forget_like and n_forget is not None:
        rng.sample(range(n_forget), min(RELEARN_TOFU_ITEMS, n_forget))
    return rng.sample(range(n_set), min(RELEARN_TOFU_ITEMS, n_set))


def regenerate_empty(
    generate: Callable[[list[Any]], list[str]], prompts: Sequence[Any], passes: int = RELEARN_PASSES
) -> list[str]:
    """ReLearn's refill loop: up to ``passes`` calls, each on the prompts whose answer is still
    the empty string; an answer stays empty after the last pass."""
    out = [""] * len(prompts)
    for _ in range(passes):
        todo = [i for i, o in enumerate(out) if o == ""]
        if not todo:
            break
        for i, text in zip(todo, generate([prompts[i] for i in todo])):
            if text != "":
                out[i] = text
    return out


def relearn_generations(ctx: Any, prompts: Sequence[list[int]]) -> list[str]:
    """ReLearn's sampled answers for ``prompts`` on the evaluated model (HF ``generate``,
    seeded from ``RELEARN_SEED``; vLLM's RNG is not reproduced)."""
    import torch

    from ..generation.hf import generate

    torch.manual_seed(RELEARN_SEED)

    def one_pass(batch: list[list[int]]) -> list[str]:
        return generate(
            ctx.model, ctx.tokenizer, batch, ctx.batch_size, RELEARN_MAX_NEW_TOKENS, ctx.device,
            ctx.formatter.stop_ids, sampling=RELEARN_SAMPLING,
        )  # fmt: skip

    return regenerate_empty(one_pass, prompts)
