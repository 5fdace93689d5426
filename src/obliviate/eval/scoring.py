"""One batched teacher-forced pass per eval set → per-item token statistics.

Every probability-based metric (probability, truth ratio, token accuracy, MIA LOSS/Min-K,
memorisation) reads these statistics; none re-runs the model. The log-softmax of each labelled
position is computed once and every statistic is read from it.

Shared prompts are run once (:func:`score_shared`): a QA set scores each question with its
answer, paraphrased answer and perturbed answers, so the same prompt tokens open up to seven
scored sequences. Items are grouped by their prompt (the ids before the first labelled
position); each distinct prompt goes through the model once, left-padded, with its KV cache, and
its items' answers are then run on copies of that cache (position ids continuing the prompt's).
The logits are those of the full sequence up to float rounding (a different matmul split:
per-item log-probabilities agree within 1e-6, ``tests/eval/test_scoring_shared.py``), at a
fraction of the tokens: on the synthkb quickstart 13.9k instead of 29.8k tokens per model.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..distributed import sharded
from ..formatting import IGNORE_INDEX, Encoded, collate_left, collate_right
from ..models.batches import batches, eval_mode


@dataclass
class ItemStats:
    """Statistics over one item's labelled (answer + EOS) positions, in order.

    ``logprobs``: log p(y_t); ``correct``: argmax == y_t; ``mu``/``sigma2``: mean and variance
    of log p under p at each position (for Min-K%++), present when requested.
    """

    logprobs: np.ndarray
    correct: np.ndarray
    mu: np.ndarray | None = None
    sigma2: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.logprobs.shape[0])

    @property
    def nll_mean(self) -> float:
        return float(-self.logprobs.mean()) if self.n else float("nan")


def _keeps_logits(model: torch.nn.Module) -> bool:
    """Whether ``model.forward`` takes ``logits_to_keep`` (transformers causal LMs; wrappers such
    as peft pass ``**kwargs`` through)."""
    params = inspect.signature(model.forward).parameters.values()
    return any(p.name == "logits_to_keep" or p.kind is p.VAR_KEYWORD for p in params)


def labelled_logits(
    model: torch.nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token logits at the labelled positions of a right-padded batch: ([N, V], [N]).

    Only the positions from the earliest label on reach the LM head (``logits_to_keep``), so the
    prompt's positions cost no vocabulary projection and no [B, T, V] tensor is built for them;
    rows are then flattened to their labelled positions, in order.
    """
    labels = batch["labels"]
    labelled = (labels != IGNORE_INDEX).any(0).nonzero()
    first = int(labelled[0]) if len(labelled) else labels.shape[1] - 1
    keep = labels.shape[1] - max(first - 1, 0)  # logits at t predict the token at t + 1
    kwargs = {"logits_to_keep": keep} if _keeps_logits(model) else {}
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **kwargs)
    logits = out.logits[:, -keep:]  # a model that ignores logits_to_keep returns every position
    targets = labels[:, labels.shape[1] - keep + 1 :]
    mask = targets != IGNORE_INDEX
    return logits[:, :-1][mask].float(), targets[mask]


def score(
    model: torch.nn.Module,
    encoded: Sequence[Encoded],
    pad_id: int,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    dist_stats: bool = False,
    shared_prefix: bool = True,
) -> list[ItemStats]:
    """Teacher-forced scoring of ``encoded`` in length-sorted batches (right padding).

    Returns stats in the input order. ``dist_stats`` adds per-position μ and σ² of log p
    (computed from the same logits: no second pass; vocabulary-sized tensors exist only for
    the labelled positions of one batch). ``shared_prefix``: items with the same prompt share
    one pass over it (:func:`score_shared`) when that saves at least a fifth of the tokens and
    the model takes a KV cache. Under several processes each rank scores every W-th item and
    the stats are gathered back in order on every rank
    (:func:`obliviate.distributed.sharded`); every rank must call it.
    """

    def collate(b: list[Encoded]) -> dict[str, torch.Tensor]:
        return collate_right(b, pad_id)

    def local(items: list[Encoded]) -> list[ItemStats]:
        out: list[ItemStats | None] = [None] * len(items)
        with eval_mode(model):
            if shared_prefix and prefix_saving(items) >= 0.2 and takes_cache(model):
                score_shared(model, items, pad_id, batch_size, device, dist_stats, out)
                return out  # type: ignore[return-value]
            for idx, batch in batches(items, batch_size, collate, device):
                logits, targets = labelled_logits(model, batch)
                counts = (batch["labels"][:, 1:] != IGNORE_INDEX).sum(1).tolist()
                _store_stats(logits, targets, counts, idx, dist_stats, out)
        return out  # type: ignore[return-value]

    return sharded(encoded, local, "score")


def _store_stats(
    logits: torch.Tensor,
    targets: torch.Tensor,
    counts: list[int],
    idx: list[int],
    dist_stats: bool,
    out: list[ItemStats | None],
) -> None:
    """Statistics of the flattened labelled positions (``logits`` [N, V], ``targets`` [N];
    ``counts[r]`` of them belong to item ``idx[r]``, in order) into ``out``."""
    logp = F.log_softmax(logits, dim=-1)
    columns = [logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1), logits.argmax(-1) == targets]
    if dist_stats:  # σ² = Σ p (log p − μ)²: no cancellation, unlike E[log² p] − μ² in fp32
        p = logp.exp()
        mu = (p * logp).sum(-1)
        columns += [mu, (p * (logp - mu.unsqueeze(-1)).square()).sum(-1)]
    per_row = [torch.split(c.cpu(), counts) for c in columns]
    for row, i in enumerate(idx):
        lp, correct, *dist = (c[row].numpy() for c in per_row)
        out[i] = ItemStats(
            logprobs=lp.astype(np.float64),
            correct=correct,
            mu=dist[0].astype(np.float64) if dist else None,
            sigma2=dist[1].astype(np.float64) if dist else None,
        )


def first_label(item: Encoded) -> int:
    """Index of the first labelled token (``len(ids)`` when none is labelled)."""
    return next((t for t, y in enumerate(item.labels) if y != IGNORE_INDEX), len(item.labels))


def prompt_groups(items: Sequence[Encoded]) -> dict[tuple[int, ...], list[int]]:
    """Item indices by prompt (the ids before the first labelled token), in first-seen order."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(tuple(item.input_ids[: first_label(item)]), []).append(i)
    return groups


def prefix_saving(items: Sequence[Encoded]) -> float:
    """Fraction of the tokens a shared pass over each distinct prompt saves (0 when an item has
    no prompt or no label: the plain pass then scores everything)."""
    total = sum(len(e.input_ids) for e in items)
    groups = prompt_groups(items)
    if not total or any(not p or len(p) == len(items[g[0]].input_ids) for p, g in groups.items()):
        return 0.0
    repeated = sum(len(p) * (len(g) - 1) for p, g in groups.items())
    return repeated / total


def cache_keyword(model: torch.nn.Module) -> str | None:
    """The keyword ``model.forward`` takes a KV cache by: ``cache`` (transformers ≥ 5.2x) or
    ``past_key_values`` (earlier); None when it takes none or no ``position_ids``. Wrappers
    (peft, DDP) are looked through to the model they wrap."""
    inner = getattr(model, "module", model)  # DDP
    if hasattr(inner, "get_base_model"):  # peft
        inner = inner.get_base_model()
    if not getattr(getattr(inner, "config", None), "use_cache", True):
        return None
    params = inspect.signature(inner.forward).parameters
    if "position_ids" not in params:
        return None
    return next((k for k in ("cache", "past_key_values") if k in params), None)


def takes_cache(model: torch.nn.Module) -> bool:
    """Whether ``model`` can score from a KV cache (:func:`cache_keyword`)."""
    return cache_keyword(model) is not None


def score_shared(
    model: torch.nn.Module,
    items: Sequence[Encoded],
    pad_id: int,
    batch_size: int,
    device: torch.device | str,
    dist_stats: bool,
    out: list[ItemStats | None],
) -> None:
    """Stats of ``items`` into ``out``, each distinct prompt run once (the module docstring).

    Prompts, shortest first, ``batch_size`` at a time: left-padded, position ids counting real
    tokens only, cache kept, logits of the last position only (they predict each answer's first
    token). Then that batch's answers, grouped by length ``batch_size`` rows at a time: each row
    a copy of its prompt's cache rows, the answer right-padded after it, attention mask
    ``[prompt mask, answer mask]``, position ids ``len(prompt) + t``; the logit predicting
    answer token t ≥ 1 is the answer pass's at t − 1.
    """
    groups = prompt_groups(items)
    prompts = sorted(groups, key=len)
    starts = [first_label(e) for e in items]
    keep = {"logits_to_keep": 1} if _keeps_logits(model) else {}
    cache_kw = cache_keyword(model)
    for p0 in range(0, len(prompts), batch_size):
        chunk = [list(p) for p in prompts[p0 : p0 + batch_size]]
        pb = {k: v.to(device) for k, v in collate_left(chunk, pad_id).items()}
        mask = pb["attention_mask"]
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        res = model(**pb, position_ids=pos, use_cache=True, **keep)
        last, cache = res.logits[:, -1], res.get("cache", res.get("past_key_values"))
        lengths = mask.sum(-1)
        members = [(row, i) for row, p in enumerate(prompts[p0 : p0 + batch_size])
                   for i in groups[p]]  # fmt: skip
        members.sort(key=lambda m: len(items[m[1]].input_ids) - starts[m[1]])
        for m0 in range(0, len(members), batch_size):
            part = members[m0 : m0 + batch_size]
            rows = torch.tensor([row for row, _ in part], device=mask.device)
            answers = [_tail(items[i], starts[i]) for _, i in part]
            ab = {k: v.to(device) for k, v in collate_right(answers, pad_id).items()}
            width = ab["input_ids"].shape[1]
            past = copy.deepcopy(cache)
            past.reorder_cache(rows)
            a_pos = lengths[rows, None] + torch.arange(width, device=mask.device)
            res_a = model(
                input_ids=ab["input_ids"],
                attention_mask=torch.cat([mask[rows], ab["attention_mask"]], dim=1),
                position_ids=a_pos,
                use_cache=True,
                **{cache_kw: past},
            )
            logits = torch.cat([last[rows, None], res_a.logits[:, :-1]], dim=1)
            labels = ab["labels"]
            labelled = labels != IGNORE_INDEX
            counts = labelled.sum(1).tolist()
            _store_stats(logits[labelled].float(), labels[labelled], counts,
                         [i for _, i in part], dist_stats, out)  # fmt: skip


def _tail(item: Encoded, start: int) -> Encoded:
    """The answer part of ``item``: its ids and labels from ``start`` on."""
    return Encoded(input_ids=list(item.input_ids[start:]), labels=list(item.labels[start:]))
