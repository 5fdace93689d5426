"""Latent recovery by the logit lens (nostalgebraist 2020; used for unlearning by Lynch et al.
2024, "Eight methods to evaluate robust unlearning in LLMs", arXiv 2402.16835): is the answer
still decodable from intermediate layers although the output no longer says it?

For the hidden state h_l after block l (l = 0: the embeddings) at the position that predicts
the gold answer's first token y (teacher-forced; the first token of the fact's value when the
record names it in ``meta["value"]`` and the answer restates the question first, as synthkb's
do; else the first labelled token):

    z_l = lm_head(norm_f(h_l))   (l = 0 … L; z_L is the model's own logits),
    rank_l = #{v : z_l[v] > z_l[y]},   logp_l = log_softmax(z_l)[y]

(``norm_f``: the final norm; h_L is its input). Reported per layer
and model: mean rank, mean log-prob, top-1 rate (rank 0) and hit@k. The latent attack's forget
metric is the top-1 rate: clean = the last layer's, attacked = the best layer's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..formatting import Encoded, Formatter, collate_right
from ..io import write_jsonl
from ..models.batches import IGNORE_INDEX, batches, eval_mode
from ..records import QAItem, Record

METRIC = "latent/top1"


def final_norm(model: torch.nn.Module) -> torch.nn.Module:
    """The final normalisation before the output layer (Llama/Qwen/Gemma ``norm``, GPT-2
    ``ln_f``, Phi/OPT ``final_layernorm``); identity when the model has none."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    base = getattr(inner, getattr(inner, "base_model_prefix", ""), None) or inner
    for holder in (base, getattr(base, "decoder", None)):
        for name in ("norm", "ln_f", "final_layernorm", "final_layer_norm"):
            mod = getattr(holder, name, None) if holder is not None else None
            if isinstance(mod, torch.nn.Module):
                return mod
    return torch.nn.Identity()


@torch.no_grad()
def lens_logits(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], positions: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(lens logits ``[layers + 1, B, V]`` at ``positions``, the model's logits ``[B, V]``).

    Every layer is decoded the same way, lm_head(norm_f(h_l)); h_L is the final norm's input,
    captured by a hook (HF returns it normed), so the last lens equals the model's logits."""
    norm, head = final_norm(model), model.get_output_embeddings()
    captured: dict[str, torch.Tensor] = {}

    def keep_input(mod: torch.nn.Module, args: tuple[Any, ...], out: Any) -> None:
        captured.setdefault("h", args[0])  # returns None: the norm's output is left as it is

    hook = norm.register_forward_hook(keep_input)
    try:
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    output_hidden_states=True)  # fmt: skip
    finally:
        hook.remove()
    rows = torch.arange(len(positions), device=positions.device)
    states = [*out.hidden_states[:-1], captured.get("h", out.hidden_states[-1])]
    lens = [head(norm(h[rows, positions])) for h in states]
    return torch.stack(lens).float(), out.logits[rows, positions].float()


def value_offset(rec: QAItem, fmt: Formatter) -> int:
    """Index, among the answer's tokens, of the first token of the fact's value (``meta
    ["value"]``, e.g. synthkb's answers restate the subject first); 0 without a value."""
    value = rec.meta.get("value") if isinstance(rec.meta, dict) else None
    if not isinstance(value, str) or not value or value not in rec.answer:
        return 0
    text = fmt.answer_text(rec.answer)
    start = text.index(rec.answer) + rec.answer.index(value)
    try:
        spans = fmt.tok(text, add_special_tokens=False, return_offsets_mapping=True)
    except (NotImplementedError, ValueError, TypeError):  # a slow tokenizer: no offsets
        return 0
    for j, (_, end) in enumerate(spans["offset_mapping"]):
        if end > start:
            return j
    return 0


def encode(
    records: Sequence[QAItem], fmt: Formatter, prefix: Any = None
) -> tuple[list[Encoded], list[int]]:
    """The scored items and, per item, the answer-token index whose prediction is read."""
    enc = [fmt.encode_pair(r.question, r.answer, prefix(r) if prefix else "") for r in records]
    return enc, [value_offset(r, fmt) for r in records]


def item_lens(
    model: torch.nn.Module,
    encoded: list[Encoded],
    pad_id: int,
    batch_size: int,
    device: Any,
    offsets: list[int] | None = None,
) -> tuple[list[list[int]], list[list[float]], list[int]]:
    """Per item and layer: the rank and log-prob of the answer token at ``offsets[i]`` (default
    0: the first labelled token), and that token's id."""
    offsets = offsets or [0] * len(encoded)
    ranks: list[list[int]] = [[] for _ in encoded]
    logps: list[list[float]] = [[] for _ in encoded]
    tokens = [0] * len(encoded)
    with eval_mode(model):
        for idx, batch in batches(encoded, batch_size, lambda b: collate_right(b, pad_id), device):
            labelled = batch["labels"] != IGNORE_INDEX
            first = labelled.float().argmax(dim=1)  # the first labelled position
            n_lab = labelled.sum(1)
            shift = torch.tensor([offsets[i] for i in idx], device=first.device)
            first = first + torch.minimum(shift, n_lab - 1).clamp(min=0)
            gold = batch["labels"].gather(1, first[:, None]).squeeze(1)
            z, _ = lens_logits(model, batch, (first - 1).clamp(min=0))
            gold_z = z.gather(2, gold[None, :, None].expand(z.shape[0], -1, 1))
            rank = (z > gold_z).sum(-1)  # [layers, B]
            logp = torch.log_softmax(z, -1).gather(2, gold[None, :, None].expand(z.shape[0], -1, 1))
            for j, i in enumerate(idx):
                ranks[i] = rank[:, j].tolist()
                logps[i] = logp[:, j, 0].tolist()
                tokens[i] = int(gold[j])
    return ranks, logps, tokens


def summarise(ranks: list[list[int]], logps: list[list[float]], k: int) -> dict[str, Any]:
    """Per layer: mean rank, mean log-prob, top-1 and hit@k rates."""
    n_layers = len(ranks[0])
    per = lambda f: [sum(f(i, layer) for i in range(len(ranks))) / len(ranks)  # noqa: E731
                     for layer in range(n_layers)]  # fmt: skip
    top1 = per(lambda i, layer: float(ranks[i][layer] == 0))
    return {
        "mean_rank": per(lambda i, layer: float(ranks[i][layer])),
        "mean_logprob": per(lambda i, layer: logps[i][layer]),
        "top1": top1,
        f"hit@{k}": per(lambda i, layer: float(ranks[i][layer] < k)),
        "best_layer": max(range(n_layers), key=lambda layer: top1[layer]),
        "n_items": len(ranks),
    }


def run(session: Any) -> dict[str, Any]:
    """The logit lens of every model on the forget-side QA items."""
    from ..methods import get_method_class

    cfg, k = session.cfg, session.cfg.attack.latent.top_k
    records: list[Record] = [r for recs in session.records().values() for r in recs]
    qa = [r for r in records if isinstance(r, QAItem)]
    per_role: dict[str, Any] = {}
    clean: dict[str, Any] = {}
    attacked: dict[str, Any] = {}
    for role in session.roles:
        model, tok = session.load(role)
        fmt = session.formatter(tok)
        prefix = None
        if role == "unlearned":  # in-context methods prompt the unlearned model
            method = get_method_class(cfg.unlearn.method)(dict(cfg.unlearn.params))
            method.prepare_eval(session.data)
            prefix = method.eval_prefix
        enc, offsets = encode(qa, fmt, prefix)
        ranks, logps, tokens = item_lens(model, enc, fmt.pad_id, cfg.eval.batch_size,
                                         session.models.device, offsets)  # fmt: skip
        rows = [{"id": r.id, "token": tok.convert_ids_to_tokens(t), "rank": rk, "logprob": lp}
                for r, t, rk, lp in zip(qa, tokens, ranks, logps)]  # fmt: skip
        write_jsonl(session.attack_dir / "latent" / role / "items.jsonl", rows)
        s = summarise(ranks, logps, k) if qa else {}
        per_role[role] = s
        if s:
            clean[role] = {METRIC: s["top1"][-1], "latent/mean_rank": s["mean_rank"][-1]}
            attacked[role] = {METRIC: max(s["top1"]), "latent/mean_rank": min(s["mean_rank"])}
        del model
    return {"clean": clean, "variants": {"logit_lens": {"models": attacked, "layers": per_role}},
            "settings": {"top_k": k, "items": len(qa)}, "metric": METRIC}  # fmt: skip
