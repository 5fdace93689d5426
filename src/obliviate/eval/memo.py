"""MEMO, MEOW's memorisation score of an answer under a model (SPEC 6.5, 5.2), batched.

Suffix mode, stride s characters (MEOW uses s = 5): for j ∈ {1, 1+s, 1+2s, …} with j < len(a),
prompt_j = ``q + " " + a[:j]``, label_j = ``a[j:]``; out_j = greedy continuation of prompt_j
(``max_new_tokens`` = 200 in MEOW); MEMO(q, a) = mean_j ROUGE-1 **precision** of out_j against
label_j (``rouge_score``, Porter stemmer, ``score(label_j, out_j)``). Prefix mode slides over the
question instead: prompt_j = ``q[:j]``, label_j = ``q[j:] + " " + a``.
Source: MEOW ``memo/memo.py`` (Gu et al. 2024, "MEOW: MEMOry Supervised LLM Unlearning Via
Inverted Facts").

Differences from the peer (SPEC 8 #38, #39): every prompt of every (question, answer) is
generated in one batched, length-sorted, left-padded greedy pass instead of one ``generate``
call per prompt; only the new tokens are decoded (the peer decodes the whole sequence and strips
the prompt string, which leaks special tokens such as ``<s>``). ``prompt="raw"`` is the peer's
untemplated string with one BOS (faithful: reproduces SPEC 9's MEOW numbers); ``prompt="template"``
puts the question in the model's prompt family and the answer prefix after the answer tag, the
format the model was fine-tuned on (SPEC 1.1 F6; obliviate's default, ``generate.memo_prompt``).
An answer of at most one character has no prompt and scores 0 (the peer's ``except`` branch).

``eval.protocol=paper`` with ``prompt="raw"`` reproduces the peer's output text too: one greedy
``generate`` per prompt, the whole sequence decoded *with* special tokens and the prompt string
removed by ``str.replace`` (MEOW ``memo/memo.py`` ``cal_rouge``, Carol-gutianle/MEOW @
a2ba15c8f06dede397395720183638ccb4bf1cd6), so BOS / EOS strings such as ``<s>`` and ``</s>`` stay
in the scored output (``rouge_score`` reads them as the word "s"), and a prompt that does not
decode to itself stays whole. ``fixed`` scores only the new tokens, special tokens skipped.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch

from ..generation.hf import generate, stop_token_ids

MODES = ("suffix", "prefix")
PROMPTS = ("raw", "template")


@functools.cache
def _rouge1():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)


def rouge1_precision(label: str, output: str) -> float:
    """``RougeScorer(["rouge1"], use_stemmer=True).score(label, output)["rouge1"].precision``:
    |unigram overlap| / |unigrams of output| (0 for an empty output)."""
    return float(_rouge1().score(label, output)["rouge1"].precision)


def memo_splits(
    question: str, answer: str, stride: int = 5, mode: str = "suffix"
) -> list[tuple[str, str]]:
    """MEOW's ``(part, label)`` pairs: suffix mode ``(a[:j], a[j:])`` (the prompt is
    ``q + " " + part``), prefix mode ``(q[:j], q[j:] + " " + a)`` (the prompt is ``part``)."""
    if stride < 1:
        raise ValueError(f"MEMO stride must be >= 1, got {stride}")
    if mode == "suffix":
        return [(answer[:j], answer[j:]) for j in range(1, len(answer), stride)]
    if mode == "prefix":
        return [
            (question[:j], question[j:] + " " + answer) for j in range(1, len(question), stride)
        ]
    raise ValueError(f"MEMO mode {mode!r}; accepted: {', '.join(MODES)}")


def _ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []


def memo_prompt_ids(
    tokenizer, formatter, question: str, part: str, mode: str, prompt: str
) -> list[int]:
    """Token ids of one MEMO prompt (BOS once)."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    if mode == "prefix":
        return bos + _ids(tokenizer, part)
    if prompt == "raw":
        return bos + _ids(tokenizer, question + " " + part)
    return formatter.prompt_ids(question) + _ids(tokenizer, formatter.answer_text(part))


def meow_outputs(
    model: torch.nn.Module,
    tokenizer,
    prompts: Sequence[list[int]],
    texts: Sequence[str],
    max_new_tokens: int = 200,
    device: torch.device | str = "cpu",
) -> list[str]:
    """MEOW's MEMO outputs: per prompt, greedy ``generate`` of ``max_new_tokens``, then
    ``tokenizer.decode(sequence).replace(prompt_text, "")`` (special tokens kept)."""
    eos = stop_token_ids(model, tokenizer)
    out: list[str] = []
    with torch.no_grad():
        for ids, text in zip(prompts, texts):
            seq = model.generate(
                input_ids=torch.tensor([ids], device=device),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=eos,
                pad_token_id=tokenizer.pad_token_id,
            )[0]
            out.append(tokenizer.decode(seq.tolist()).replace(text, ""))
    return out


def memo_scores(
    model: torch.nn.Module,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    *,
    formatter=None,
    stride: int = 5,
    mode: str = "suffix",
    prompt: str = "raw",
    max_new_tokens: int = 200,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    protocol: str = "fixed",
) -> list[float]:
    """MEMO of every (question, answer) pair, all prompts in one batched greedy pass
    (``protocol="paper"`` with ``prompt="raw"``: MEOW's per-prompt decode, see the module
    docstring)."""
    if prompt not in PROMPTS:
        raise ValueError(f"MEMO prompt {prompt!r}; accepted: {', '.join(PROMPTS)}")
    if prompt == "template" and formatter is None:
        raise ValueError("MEMO prompt='template' needs the run's formatter")
    owners: list[int] = []
    prompts: list[list[int]] = []
    labels: list[str] = []
    texts: list[str] = []
    for k, (q, a) in enumerate(pairs):
        for part, label in memo_splits(q, a, stride, mode):
            owners.append(k)
            prompts.append(memo_prompt_ids(tokenizer, formatter, q, part, mode, prompt))
            labels.append(label)
            texts.append(part if mode == "prefix" else q + " " + part)
    if protocol == "paper" and prompt == "raw":
        outputs = meow_outputs(model, tokenizer, prompts, texts, max_new_tokens, device)
    else:
        outputs = generate(model, tokenizer, prompts, batch_size, max_new_tokens, device)
    totals = [0.0] * len(pairs)
    counts = [0] * len(pairs)
    for k, label, out in zip(owners, labels, outputs):
        totals[k] += rouge1_precision(label, out)
        counts[k] += 1
    return [t / c if c else 0.0 for t, c in zip(totals, counts)]
