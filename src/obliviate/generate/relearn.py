"""ReLearn data augmentation (SPEC 5.1; Xu et al. 2025, "ReLearn: Unlearning via Learning for
Large Language Models", zjunlp/unlearn ``dataAugument/``).

Per forget QA item (generation, :func:`augment_chunk`):

1. question variants: four requests (rephrase; more specific; typos/informal; reverse relation),
   one question each (first line kept);
2. vague answers for the original question and every variant: the answer is split into
   800-character chunks, each rewritten to stay on the subject but drop names, dates, places,
   e-mails; chunks re-joined;
3. leakage check: a chain-of-thought Yes/No judgement under a CCPA/GDPR framing. **Strict**
   parse (SPEC 8 #25): the *last* standalone "yes"/"no" word decides, an answer with neither
   counts as a leak; the peer passed any reply with "no" in its last 5 characters ("...know").
   An answer containing the item's sensitive value verbatim (``meta["value"]``) is rejected
   without asking. Rejected answers are regenerated with a new seed, up to ``rounds`` rounds.

Output row: ``questions`` = [original, variants...] and ``vague`` aligned with it (``None`` where
every round leaked). The cheap, deterministic gathering happens at training time
(:func:`relearn_pairs`), so its options are method parameters: pairs (questions[i], vague[i])
(aligned, fixing the peer's off-by-one), the original (question, answer) only when
``include_original`` (the peer always adds it: the sensitive pair leaks into the positive data),
a **seeded** shuffle (peer: unseeded), pairs with > 1% CJK characters dropped and CJK stripped
from the rest, completion items (first ⌊0.25·w⌋ answer words → the remaining words), and an
optional general-data mix (``ratio`` × the pair count, shuffled with seed 2059).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ..errors import ObliviateError
from ..generation.backend import Backend, Conversation
from ..generation.sampling import Sampling
from ..records import QAItem

VARIANT_PROMPTS: dict[str, str] = {
    "rephrase": "Rewrite the question below with different words or sentence structure, keeping "
    "its meaning exactly the same.\n\nQuestion:\n{q}\n\nReply with the rewritten question only.",
    "specific": "Make the question below more specific by adding relevant context or details "
    "about one particular aspect of its topic.\n\nQuestion:\n{q}\n\nReply with the modified "
    "question only.",
    "noise": "Rewrite the question below with a few small grammar mistakes, typos or informal "
    "wording, without changing what it asks.\n\nQuestion:\n{q}\n\nReply with the rewritten "
    "question only.",
    "reverse": "Rewrite the question below so that it asks about the reverse relationship or "
    "perspective (if it asks about the effect of X on Y, ask about the effect of Y on X)."
    "\n\nQuestion:\n{q}\n\nReply with the rewritten question only.",
}
VAGUE_PROMPT = (
    "You answer questions in a way that stays on topic but is deliberately vague wherever "
    "sensitive information is involved. Your answer must:\n"
    "- sound professional, thoughtful and deliberate;\n"
    "- address the topic without specific details (no names of other people, dates, places, "
    "addresses, e-mail addresses or titles);\n"
    "- replace any sensitive detail with abstract, conceptually related wording;\n"
    "- stay general, with no practical or actionable detail;\n"
    "- keep the same subject as the question: if the question is about a named person, the "
    'answer is about that person by name, not about "the individual".\n\n'
    "Original question: {q}\nOriginal answer: {a}\n\nReply with the rewritten answer only."
)
LEAK_PROMPT = (
    "Does the sentence '{text}' leak private information about a person, in the sense of "
    "privacy laws such as the CCPA and the GDPR? Public facts such as a person's name, "
    "profession, birth date and awards are not a leak. Private details such as the names of "
    "their parents or relatives, e-mail addresses and home addresses are a leak, following the "
    "principles of data minimisation and the right to be forgotten. Reason step by step, then "
    "end your reply with a single final word: Yes (it leaks) or No (it does not)."
)
CHUNK_CHARS = 800
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_QUESTION_TAG = re.compile(r"^\s*(?:\*\*)?(?:rewritten |modified )?question\s*:\s*", re.I)


def parse_yes_no(text: str) -> bool | None:
    """The judge's verdict: True for a final "Yes", False for "No", None when neither appears."""
    words = _YES_NO.findall(text)
    return None if not words else words[-1].lower() == "yes"


def contains_value(item: QAItem, text: str) -> bool:
    """Whether ``text`` repeats the item's sensitive value (``meta["value"]``) verbatim."""
    value = str(item.meta.get("value", "")).strip()
    return bool(value) and value.lower() in text.lower()


def split_chunks(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """Consecutive pieces of at most ``size`` characters, cut at whitespace (a longer word stays
    whole)."""
    chunks: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > size:
            chunks.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return [*chunks, current] if current else chunks


def clean_question(text: str) -> str:
    """The first non-empty line of a reply, without a "Question:" tag or quotes."""
    for line in text.splitlines():
        line = _QUESTION_TAG.sub("", line.strip(" \t*")).strip(" \t\"'*")
        if line:
            return line
    return ""


class Augmenter(Protocol):
    """What :func:`augment_chunk` needs: an LLM (:class:`LLMAugmenter`) or the offline synthkb
    templates (:class:`obliviate.benchmarks.synthkb.offline.SynthkbAugmenter`)."""

    def variants(self, items: Sequence[QAItem]) -> list[list[str]]: ...

    def vague(self, requests: Sequence[tuple[QAItem, str]], round_: int) -> list[str]: ...

    def leaks(self, checks: Sequence[tuple[QAItem, str]], round_: int) -> list[bool]: ...


class LLMAugmenter:
    """ReLearn's three LLM steps through any backend."""

    def __init__(self, backend: Backend, sampling: Sampling, chunk_chars: int = CHUNK_CHARS):
        self.backend = backend
        self.sampling = sampling
        self.chunk_chars = chunk_chars

    def _ask(self, prompts: Sequence[str], round_: int) -> list[str]:
        convs: list[Conversation] = [[{"role": "user", "content": p}] for p in prompts]
        sampling = replace(self.sampling, n=1, stop=(), seed=self.sampling.seed + round_)
        return [outs[0] for outs in self.backend.chat_many(convs, sampling)]

    def variants(self, items: Sequence[QAItem]) -> list[list[str]]:
        prompts = [t.format(q=it.question) for it in items for t in VARIANT_PROMPTS.values()]
        replies = self._ask(prompts, 0)
        k = len(VARIANT_PROMPTS)
        out: list[list[str]] = []
        for i, it in enumerate(items):
            found: list[str] = []
            for reply in replies[i * k : (i + 1) * k]:
                q = clean_question(reply)
                if q and q != it.question and q not in found:
                    found.append(q)
            out.append(found)
        return out

    def vague(self, requests: Sequence[tuple[QAItem, str]], round_: int) -> list[str]:
        prompts: list[str] = []
        owners: list[int] = []
        for r, (item, question) in enumerate(requests):
            for chunk in split_chunks(item.answer, self.chunk_chars) or [item.answer]:
                prompts.append(VAGUE_PROMPT.format(q=question, a=chunk))
                owners.append(r)
        replies = self._ask(prompts, round_)
        parts: list[list[str]] = [[] for _ in requests]
        for r, reply in zip(owners, replies):
            parts[r].append(reply.strip())
        return [" ".join(p).strip() for p in parts]

    def leaks(self, checks: Sequence[tuple[QAItem, str]], round_: int) -> list[bool]:
        ask = [i for i, (item, text) in enumerate(checks) if not contains_value(item, text)]
        replies = self._ask([LEAK_PROMPT.format(text=checks[i][1]) for i in ask], round_)
        verdicts = [True] * len(checks)
        for i, reply in zip(ask, replies):
            verdicts[i] = parse_yes_no(reply) is not False
        return verdicts


def augment_chunk(
    items: Sequence[QAItem], augmenter: Augmenter, rounds: int = 3
) -> list[dict[str, Any]]:
    """Steps 1-3 for a chunk of items; one row per item (see the module docstring)."""
    variants = augmenter.variants(items)
    questions = [[it.question, *vs] for it, vs in zip(items, variants)]
    vague: list[list[str | None]] = [[None] * len(qs) for qs in questions]
    rejected = [0] * len(items)
    for round_ in range(rounds):
        pending = [(i, j) for i, row in enumerate(vague) for j, v in enumerate(row) if v is None]
        if not pending:
            break
        texts = augmenter.vague([(items[i], questions[i][j]) for i, j in pending], round_)
        leaked = augmenter.leaks([(items[i], t) for (i, _), t in zip(pending, texts)], round_)
        for (i, j), text, leak in zip(pending, texts, leaked):
            if leak or not text:
                rejected[i] += 1
            else:
                vague[i][j] = text
    return [
        {"question": it.question, "answer": it.answer, "subject": it.subject,
         "questions": qs, "vague": vs, "rejected": n}
        for it, qs, vs, n in zip(items, questions, vague, rejected)
    ]  # fmt: skip


# ---- gathering (training time) ---------------------------------------------------------------
@dataclass(frozen=True)
class Pair:
    """One positive training example; ``kind`` ∈ variant, original, completion."""

    question: str
    answer: str
    kind: str = "variant"


def cjk_ratio(text: str) -> float:
    return len(_CJK.findall(text)) / max(1, len(text.replace(" ", "")))


def relearn_pairs(
    rows: Sequence[dict[str, Any]],
    include_original: bool = False,
    completion: bool = True,
    seed: int = 42,
    cjk_max: float = 0.01,
) -> list[Pair]:
    """Steps 4-5 of SPEC 5.1 on generated rows (aligned, seeded, original pair opt-in)."""
    pairs: list[Pair] = []
    for row in rows:
        if include_original:
            pairs.append(Pair(row["question"], row["answer"], "original"))
        pairs += [Pair(q, a) for q, a in zip(row["questions"], row["vague"]) if a]
    random.Random(seed).shuffle(pairs)
    kept = [
        Pair(_CJK.sub("", p.question), _CJK.sub("", p.answer), p.kind)
        for p in pairs
        if max(cjk_ratio(p.question), cjk_ratio(p.answer)) <= cjk_max
    ]
    if completion:
        for p in list(kept):
            words = p.answer.split(" ")
            cut = len(words) // 4
            if cut:
                kept.append(Pair(" ".join(words[:cut]), " ".join(words[cut:]), "completion"))
    if not kept:
        raise ObliviateError(
            "ReLearn augmentation left no training pair (every vague answer leaked or was "
            "empty); regenerate with another backend/model or more generate.check_rounds"
        )
    return kept


def mix_general(general: Sequence[Any], n_pairs: int, ratio: float, seed: int = 2059) -> list[Any]:
    """Step 6: ``int(ratio · n_pairs)`` general records, shuffled with ``seed`` (ReLearn mixes
    WikiQA positives with seed 42 + 2017; capped by what exists)."""
    if ratio <= 0:
        return []
    if not general:
        raise ObliviateError(
            f"unlearn.params.general_ratio={ratio}: the benchmark has no general data to mix in; "
            "set general_ratio=0"
        )
    pool = list(general)
    random.Random(seed).shuffle(pool)
    return pool[: int(ratio * n_pairs)]


def preference_pairs(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """ReLearn-DPO data (SPEC 3.2): (question variant, vague answer ≻ original answer)."""
    return [
        (q, a, row["answer"]) for row in rows for q, a in zip(row["questions"], row["vague"]) if a
    ]
