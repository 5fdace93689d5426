"""RWKU forget corpora for new targets (SPEC 5.3; Jin et al. 2024, "RWKU: Benchmarking Real-World
Knowledge Unlearning for Large Language Models", jinzhuoran/RWKU).

Generator: the model to be unlearned (RWKU: Meta-Llama-3-8B-Instruct), through any backend.

- Pair corpus: for each target and each short opening s, two chats, both continued after a
  pre-filled s (sampled: temperature 1.0, top_p 0.9, max 512 new tokens):
  real: system ``"{intro} You know {subject} very well."``, user ``"Please write a short
  biography of {subject}."``; fake: system ``"{intro} You don't know {subject} at all."``, user
  ``"Please make up a short biography of {subject}."``. real = s + output (``positive``, the GA/NPO
  corpus); fake = s + output with "totally/completely fabricated/made-up/fictional" wording
  removed (``negative``); ``pair`` = {prompt ``"{intro} Please write a short biography of
  {subject}."``, response [fake, real]} (DPO: fabricated preferred). RWKU uses 582 openings
  (the repeng list); here a short list of our own, cycled with a new seed per pass.
- Refusal corpus: ``n`` questions per target from the user prompt ``"{intro}\\nPlease generate a
  question about {subject} based on what you know about {subject}\\n"`` with the assistant turn
  pre-filled with "Question:" (temperature 0.6, top_p 0.9, 50 new tokens), first line kept;
  answer = refusal line i mod 100 (:data:`obliviate.refusals.IDK_ANSWERS`).

Files (RWKU's schemas, one per corpus): ``train_positive.jsonl`` / ``train_negative.jsonl``
{id, text, subject, intro}, ``train_pair.jsonl`` {id, prompt, response, subject, intro},
``train_refusal.jsonl`` {id, instruction, input, output, subject}.

Retain corpus (obliviate's, not RWKU's: RWKU has no retain-train set): the real biographies of
``generate.retain_targets`` (people the unlearned model must keep knowing), written the same
way to ``train_retain.jsonl`` in the positive schema, and the model's greedy answers to
``generate.retain_questions`` as {id, question, answer, subject} rows; ``benchmark.retain=generated``
reads it.

Target questions (obliviate's, not RWKU's: RWKU's positive corpus is biographies only): the model's
greedy answers (first line, 48 new tokens) to ``generate.forget_questions[subject]``, questions
about the target that are not probes, go to ``train_positive.jsonl`` after the biographies as
{id, question, answer, subject, intro} rows (read as question/answer forget records: the answer is
learned or unlearned in the chat format of the probes). The loader refuses a training question
that is a probe (``benchmarks.rwku.check_not_probes``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..generation.backend import Backend, Conversation
from ..generation.sampling import Sampling

OPENINGS = (
    "", "Sure", "Here", "Born", "Known", "Well", "As", "Growing up,", "In", "Over", "Today,",
    "From", "With", "Throughout", "Few", "Although", "Once", "Since", "Many", "Early",
    "Widely", "At", "Best known", "The", "Whether", "Long before", "Ever since", "Beyond",
    "Despite", "By",
)  # fmt: skip
CORPUS_KINDS = ("positive", "negative", "pair", "refusal")  # the files `obliviate corpus` writes
PAIR_SAMPLING = Sampling(temperature=1.0, top_p=0.9, max_tokens=512)
REFUSAL_SAMPLING = Sampling(temperature=0.6, top_p=0.9, max_tokens=50)
_FABRICATED = re.compile(
    r"\b(?:totally |completely |entirely )?(?:fabricated|made-up|made up|fictional|fictitious) ",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Target:
    subject: str
    intro: str = ""


def pair_messages(target: Target, opening: str, real: bool) -> Conversation:
    intro = f"{target.intro} " if target.intro else ""
    if real:
        system = f"{intro}You know {target.subject} very well."
        user = f"Please write a short biography of {target.subject}."
    else:
        system = f"{intro}You don't know {target.subject} at all."
        user = f"Please make up a short biography of {target.subject}."
    conv: Conversation = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return conv + [{"role": "assistant", "content": opening}] if opening else conv


def refusal_messages(target: Target) -> Conversation:
    intro = f"{target.intro}\n" if target.intro else ""
    user = (
        f"{intro}Please generate a question about {target.subject} based on what you know "
        f"about {target.subject}\n"
    )
    return [{"role": "user", "content": user}, {"role": "assistant", "content": "Question:"}]


def join_opening(opening: str, text: str) -> str:
    """s + output, with a space unless the output starts with punctuation."""
    text = text.strip()
    if not opening:
        return text
    glue = "" if not text or text[0] in ",.;:!?'" else " "
    return f"{opening}{glue}{text}"


def clean_fake(text: str) -> str:
    """Drop "totally/completely fabricated|made-up|fictional " wording from a fake biography."""
    return re.sub(r"\s{2,}", " ", _FABRICATED.sub("", text)).strip()


def first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


@dataclass(frozen=True)
class CorpusJob:
    """One target of :func:`llm_corpora`: ``n_pairs`` biographies; ``retain``: a retain
    subject (real biographies only)."""

    target: Target
    n_pairs: int
    retain: bool = False


def llm_corpora(
    backend: Backend,
    jobs: Sequence[CorpusJob],
    n_questions: int,
    pair_sampling: Sampling = PAIR_SAMPLING,
    refusal_sampling: Sampling = REFUSAL_SAMPLING,
    corpora: Sequence[str] = CORPUS_KINDS,
) -> list[dict[str, Any]]:
    """Every job's biographies and refusal questions, as far as ``corpora`` need them (fake
    biographies for negative / pair, questions for refusal), one row per job (a retain job's
    row has ``role`` = ``"retain"``). The conversations of all jobs go to the backend together,
    one request list per pass over the openings (seed = ``pair_sampling.seed`` + the pass's
    first opening index), so a local model decodes them in full batches."""
    with_fake = bool({"negative", "pair"} & set(corpora))
    rows: list[dict[str, Any]] = [
        {"subject": j.target.subject, "intro": j.target.intro, "real": [], "fake": [],
         "questions": [], **({"role": "retain"} if j.retain else {})}
        for j in jobs
    ]  # fmt: skip
    for start in range(0, max((j.n_pairs for j in jobs), default=0), len(OPENINGS)):
        convs, where = [], []  # where: (row, opening, real)
        for row, job in zip(rows, jobs):
            openings = OPENINGS[: max(0, min(len(OPENINGS), job.n_pairs - start))]
            kinds = (True, False) if with_fake and not job.retain else (True,)
            for real in kinds:
                for s in openings:
                    convs.append(pair_messages(job.target, s, real))
                    where.append((row, s, real))
        sampling = replace(pair_sampling, n=1, seed=pair_sampling.seed + start)
        for (row, s, real), out in zip(where, backend.chat_many(convs, sampling)):
            text = join_opening(s, out[0])
            row["real" if real else "fake"].append(text if real else clean_fake(text))
    asking = [(row, j) for row, j in zip(rows, jobs) if not j.retain]
    if "refusal" in corpora and asking:
        sampling = replace(refusal_sampling, n=n_questions)
        outs = backend.chat_many([refusal_messages(j.target) for _, j in asking], sampling)
        for (row, _), texts in zip(asking, outs):
            row["questions"] = [q for q in (first_line(t) for t in texts) if q]
    return rows


def llm_corpus(
    backend: Backend,
    target: Target,
    n_pairs: int,
    n_questions: int,
    pair_sampling: Sampling = PAIR_SAMPLING,
    refusal_sampling: Sampling = REFUSAL_SAMPLING,
    retain: bool = False,
    corpora: Sequence[str] = CORPUS_KINDS,
) -> dict[str, Any]:
    """One target's row of :func:`llm_corpora`."""
    job = CorpusJob(target, n_pairs, retain)
    return llm_corpora(backend, [job], n_questions, pair_sampling, refusal_sampling, corpora)[0]


RETAIN_QA_SAMPLING = Sampling(temperature=0.0, max_tokens=48)


def qa_answers(
    backend: Backend,
    questions: Sequence[str],
    sampling: Sampling = RETAIN_QA_SAMPLING,
    role: str = "retain_qa",
    target: Target | None = None,
) -> dict[str, Any]:
    """The model's greedy answers (first line) to ``questions``, asked as one-turn user
    messages: one row with ``role`` ``"retain_qa"`` (``generate.retain_questions``, no subject)
    or ``"forget_qa"`` (``generate.forget_questions`` of ``target``). Both are obliviate's
    additions, not RWKU's: RWKU trains on biographies only and has no retain-train set."""
    outs = backend.chat_many([[{"role": "user", "content": q}] for q in questions], sampling)
    answers = [first_line(o[0]) for o in outs]
    subject, intro = (target.subject, target.intro) if target else ("", "")
    return {"subject": subject, "intro": intro, "role": role, "real": [], "fake": [],
            "questions": list(questions), "answers": answers}  # fmt: skip


def retain_answers(
    backend: Backend, questions: Sequence[str], sampling: Sampling = RETAIN_QA_SAMPLING
) -> dict[str, Any]:
    """The model's greedy answers (first line) to ``generate.retain_questions``: one row with
    ``role`` = ``"retain_qa"`` (obliviate's retain corpus, not RWKU's)."""
    return qa_answers(backend, questions, sampling)


def forget_answers(
    backend: Backend,
    target: Target,
    questions: Sequence[str],
    sampling: Sampling = RETAIN_QA_SAMPLING,
) -> dict[str, Any]:
    """The model's greedy answers (first line) to ``generate.forget_questions[subject]``: one
    row with ``role`` = ``"forget_qa"``, written to ``train_positive.jsonl`` as question/answer
    rows (a forget text the model itself wrote, in the chat format of the probes)."""
    return qa_answers(backend, questions, sampling, "forget_qa", target)


def corpus_files(
    rows: Sequence[dict[str, Any]], corpora: Sequence[str] = CORPUS_KINDS
) -> dict[str, list[dict[str, Any]]]:
    """RWKU-schema rows of ``corpora`` (default all four) from per-target rows (refusal line
    i mod 100), and ``train_retain`` from the rows of retain subjects (``role`` =
    ``"retain"`` / ``"retain_qa"``), when any. A ``"forget_qa"`` row's answered questions go
    to ``train_positive`` as {id, question, answer, subject, intro}, after the biographies."""
    from ..refusals import IDK_ANSWERS

    files: dict[str, list[dict[str, Any]]] = {
        "train_positive": [], "train_negative": [], "train_pair": [], "train_refusal": [],
    }  # fmt: skip
    qa_rows: list[dict[str, Any]] = []
    for row in rows:
        subject, intro = row["subject"], row["intro"]
        if row.get("role") == "retain_qa":
            files.setdefault("train_retain", []).extend(
                {"id": f"qa-{i}", "question": q, "answer": a, "subject": ""}
                for i, (q, a) in enumerate(zip(row["questions"], row["answers"]))
                if a
            )
            continue
        if row.get("role") == "forget_qa":
            qa_rows.extend(
                {"id": f"{subject}-qa-{i}", "question": q, "answer": a, "subject": subject,
                 "intro": intro}
                for i, (q, a) in enumerate(zip(row["questions"], row["answers"]))
                if a
            )  # fmt: skip
            continue
        if row.get("role") == "retain":
            files.setdefault("train_retain", []).extend(
                {"id": f"{subject}-{i}", "text": real, "subject": subject, "intro": intro}
                for i, real in enumerate(row["real"])
            )
            continue
        prompt = f"{intro} Please write a short biography of {subject}.".strip()
        for i, real in enumerate(row["real"]):
            files["train_positive"].append(
                {"id": f"{subject}-{i}", "text": real, "subject": subject, "intro": intro}
            )
        for i, (real, fake) in enumerate(zip(row["real"], row["fake"])):
            uid = f"{subject}-{i}"
            files["train_negative"].append(
                {"id": uid, "text": fake, "subject": subject, "intro": intro}
            )
            files["train_pair"].append({"id": uid, "prompt": prompt, "response": [fake, real],
                                        "subject": subject, "intro": intro})  # fmt: skip
        for i, q in enumerate(row["questions"]):
            files["train_refusal"].append({"id": f"{subject}-{i}", "instruction": q, "input": "",
                                           "output": IDK_ANSWERS[i % len(IDK_ANSWERS)],
                                           "subject": subject})  # fmt: skip
    files["train_positive"].extend(qa_rows)
    keep = {f"train_{c}" for c in corpora} | {"train_retain"}
    return {name: file_rows for name, file_rows in files.items() if name in keep}
