"""MEOW's MA and EL on a model, batched (SPEC 6.5; formulas in :mod:`.metrics.meow`).

MEOW calls ``generate(max_new_tokens=1)`` once per answer prefix (MA) and a 200-token greedy
generation once per prefix (EL), one item at a time. Here:

- **MA from one teacher-forced pass.** Prefix i's prompt is the token ids ``C + a[:i]`` (C = the
  context: BOS + question, or the family template). Greedy decoding of one token from that prompt
  returns argmax p(·|C, a_<i); a causal LM's logits at position |C| + i − 1 of the full sequence
  ``C + a`` depend only on the tokens up to that position, i.e. exactly on ``C + a[:i]``. So the
  teacher-forced argmax at every answer position equals every prefix's greedy next token, and one
  forward pass over ``C + a`` gives all n − 1 MA indicators (the ``correct`` array of
  :func:`obliviate.eval.scoring.score`). This is token-id slicing: MEOW re-tokenises the string
  ``q + " " + decode(a_<i)``, which can merge tokens across the boundary; SPEC 6.5 lists
  token-id slicing as the option obliviate takes.
- **EL in one batched generation call** over every prefix of every item (length-sorted, left
  padded, KV cache), through the evaluation context's generation backend.

``template=True`` uses the family template (the same ids as every other metric: MA is then the
main scoring pass's ``correct`` array, at no cost); ``template=False`` is MEOW's template-free
prompt, BOS + ``q`` + ``" " + a``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..formatting import IGNORE_INDEX, Encoded, Formatter
from ..records import QAItem
from .metrics.meow import extraction_likelihood, memorisation_accuracy
from .scoring import score


def answer_encoding(fmt: Formatter, question: str, answer: str, template: bool) -> Encoded:
    """Context ids + answer ids (no EOS), labels on the answer tokens only."""
    if template:
        enc = fmt.encode_pair(question, answer)
        if fmt.eos_id is not None and enc.input_ids[-1] == fmt.eos_id:
            return Encoded(enc.input_ids[:-1], enc.labels[:-1])
        return enc
    context = fmt._with_bos(fmt._ids(question))
    answer_ids = fmt._ids(" " + answer)
    return Encoded(context + answer_ids, [IGNORE_INDEX] * len(context) + answer_ids)


def memorisation_accuracy_scores(
    model, fmt: Formatter, records: Sequence[QAItem], batch_size: int, device, template: bool
) -> list[float]:
    """MA of each item from one teacher-forced pass (see the module docstring)."""
    encoded = [answer_encoding(fmt, r.question, r.answer, template) for r in records]
    stats = score(model, encoded, fmt.pad_id, batch_size, device)
    return [memorisation_accuracy(s.correct) for s in stats]


def extraction_likelihood_scores(
    fmt: Formatter,
    records: Sequence[QAItem],
    generate: Callable[[list[list[int]], int], list[str]],
    max_new_tokens: int,
    template: bool,
) -> list[float]:
    """EL of each item: the n − 2 prefixes ``C + a[:i]`` (i = 1..n−2) of every item go to one
    batched greedy ``generate(prompts, max_new_tokens)`` call; NaN for answers under 3 tokens."""
    prompts: list[list[int]] = []
    spans: list[tuple[int, int]] = []
    for rec in records:
        enc = answer_encoding(fmt, rec.question, rec.answer, template)
        start = next(i for i, lab in enumerate(enc.labels) if lab != IGNORE_INDEX)
        n = len(enc.input_ids) - start
        first = len(prompts)
        prompts.extend(enc.input_ids[: start + i] for i in range(1, n - 1))
        spans.append((first, len(prompts)))
    outputs = generate(prompts, max_new_tokens) if prompts else []
    return [extraction_likelihood(outputs[a:b], rec.answer) for rec, (a, b) in zip(records, spans)]
