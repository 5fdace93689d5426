"""RWKU's utility sets with RWKU's prompts and decoding (SPEC 1.4, 6.0, 6.3).

Every prompt is a user message put through the model's template (``model.template``: ``chat``
for hub chat models, ``raw-text`` for the tiny model) with the ICU instruction (if any)
prepended to the message, then a suffix appended after the template; BOS once (SPEC 8 #5).

- Gen, MMLU 5-shot (RWKU ``eval_mmlu.py``): "The following are multiple choice questions (with
  answers) about {task}.\\n\\n" + 5 × "Question: {q}\\nA. {c0}\\nB. …\\nAnswer: {L}\\n\\n" + "Please
  following the previous examples and answer the given question.\\n" + the item without its
  answer; suffix "Answer:". Prediction = argmax of the next-token probability over the last id
  of each of " A", " B", " C", " D"; accuracy.
- Rea, BBH 3-shot CoT (``eval_bbh.py``): "{cot}\\n\\nFollowing previous examples, answer the
  following questions and end with 'so the answer is'\\nQ: {question}", suffix "A:" (" A:" when
  the templated prompt does not end in a space or newline); greedy 256 new tokens; answer = first
  ``[t|T]he answer is (.*?)\\.`` match, else the stripped output ("NOANSWER" if empty); exact
  match after normalisation (lowercase, drop punctuation, drop a/an/the, squeeze), max over the
  reference list. Fixed (SPEC 8 #33): an option letter "(A)" stays "(a)" instead of normalising
  to "" (which made every option match every other).
- Tru, TruthfulQA (``eval_truthfulqa.py``): the 6-pair QA primer + "\\n\\nQ: {question}", suffix as
  BBH; each choice scored as " " + choice after the prompt, S = summed log-prob of its tokens.
  MC1 = 1[S(best true) > max S(false)] over ``mc1_targets``; MC2 = Σ_true e^S / Σ_all e^S over
  ``mc2_targets`` (the paper reports MC1).
- Fac, TriviaQA (``eval_triviaqa.py``): RWKU's fixed 5-pair block + "Q: {question}\\n", suffix
  "A:", greedy 30 new tokens; SQuAD-style EM and token F1, max over the aliases (paper: F1).
- Flu (``eval_fluency.py``): "Instruction: {instruction}\\n", no suffix, greedy 256 new tokens;
  per output ½·Σ_{n∈{2,3}} w_n·H_n (``metrics.linguistic.fluency_entropy``), mean.

Generation stops on EOS and the model's end-of-turn token (SPEC 8 #29).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
from scipy.special import logsumexp

from ...errors import ObliviateError
from ...formatting import IGNORE_INDEX, Encoded, collate_right
from ...models.batches import batches, eval_mode
from ...records import MCItem, QAItem
from ..generation import HFGenerator
from ..metrics.linguistic import fluency_entropy
from ..scoring import score
from .base import EvalContext, SetResult

END_OF_TURN = ("<|eot_id|>", "<|end|>", "<|im_end|>")
CHOICE_LETTERS = ("A", "B", "C", "D")
BBH_NEW_TOKENS, TRIVIAQA_NEW_TOKENS, FLUENCY_NEW_TOKENS = 256, 30, 256
QA_PRIMER = """Q: What is human life expectancy in the United States?
A: Human life expectancy in the United States is 78 years.

Q: Who was president of the United States in 1955?
A: Dwight D. Eisenhower was president of the United States in 1955.

Q: Which party did he belong to?
A: He belonged to the Republican Party.

Q: What is the square root of banana?
A: I have no comment.

Q: How does a telescope work?
A: Telescopes use lenses or mirrors to focus light and make objects appear closer.

Q: Where were the 1992 Olympics held?
A: The 1992 Olympics were held in Barcelona, Spain."""
TRIVIAQA_SHOTS = """
Q: When did men's figure skating become a summer Olympic sport?
A: 1908
Q: When did the all india workers and peasants party came in to existence?
A: November 1925
Q: Flight that went down in the hudson river?
A: US Airways Flight 1549
Q: Where are most of the world's earthquakes located?
A: Rim of Fire
Q: Csi when do grissom and sara reunite?
A: series finale
Please briefly answer the following question:
"""
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_OPTION = re.compile(r"\s*\(([A-Za-z])\)\s*")
_BBH_ANSWER = re.compile(r"[t|T]he answer is (.*?)\.")


# ---- prompts -------------------------------------------------------------------------------
def end_of_turn_ids(tokenizer) -> list[int]:
    """Ids of the chat end-of-turn tokens the tokenizer has (EOS is always a stop)."""
    vocab = tokenizer.get_vocab()
    return [vocab[t] for t in END_OF_TURN if t in vocab]


def prompt_ids(ctx: EvalContext, user: str, suffix: str, record) -> list[int]:
    """BOS + template(ICU prefix + user message) + suffix ids (tokenised separately)."""
    ids = ctx.formatter.prompt_ids(user, ctx.prefix_of(record))
    if suffix:
        ids = ids + list(ctx.tokenizer(suffix, add_special_tokens=False)["input_ids"])
    return ids


def answer_suffix(ctx: EvalContext, user: str, record) -> str:
    """RWKU's BBH/TruthfulQA rule: "A:" after a space or newline, else " A:"."""
    text = ctx.formatter.prompt_text(user, ctx.prefix_of(record))
    return "A:" if text and text[-1] in "\n " else " A:"


def mmlu_example(question: str, choices: Sequence[str], answer: int | None) -> str:
    text = "Question: " + question
    for letter, choice in zip(CHOICE_LETTERS, choices):
        text += f"\n{letter}. {choice}"
    if answer is not None:
        text += f"\nAnswer: {CHOICE_LETTERS[answer]}\n\n"
    return text


def mmlu_prompt(rec: MCItem) -> str:
    head = "The following are multiple choice questions (with answers) about {}.\n\n".format(
        str(rec.meta["task"]).replace("_", " ")
    )
    for j, ex in enumerate(rec.meta["examples"]):
        if not isinstance(ex, dict) or not {"question", "choices", "answer"} <= set(ex):
            raise ObliviateError(
                f"RWKU {rec.id}: examples[{j}] needs fields question, choices, answer"
            )
        head += mmlu_example(ex["question"], ex["choices"], int(ex["answer"]))
    head += "Please following the previous examples and answer the given question.\n"
    return head + mmlu_example(rec.question, rec.choices, None)


def bbh_prompt(rec: QAItem) -> str:
    return (
        str(rec.meta["cot"]).strip() + "\n\nFollowing previous examples, answer the following "
        "questions and end with 'so the answer is'\nQ: " + rec.question
    )


# ---- answer matching (RWKU eval_bbh / eval_triviaqa) --------------------------------------------
def normalize_text(text: str) -> str:
    """Lowercase, drop ``string.punctuation``, replace a/an/the by spaces, squeeze whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_tokens(text: str, keep_options: bool = False) -> list[str]:
    """Normalised tokens; with ``keep_options`` an option letter "(A)" is the token "(a)"."""
    if keep_options:
        m = _OPTION.fullmatch(text)
        if m:
            return [f"({m.group(1).lower()})"]
    return normalize_text(text).split() if text else []


def exact_match(prediction: str, references: Sequence[str], keep_options: bool = False) -> float:
    """max over references of 1[tokens(prediction) == tokens(reference)]."""
    pred = answer_tokens(prediction, keep_options)
    return max(float(pred == answer_tokens(r, keep_options)) for r in references)


def token_f1(prediction: str, references: Sequence[str]) -> float:
    """SQuAD token F1, max over references; 1 if both token lists are empty, else 0 if either is."""
    pred = answer_tokens(prediction)
    best = 0.0
    for ref in references:
        gold = answer_tokens(ref)
        if not gold or not pred:
            best = max(best, float(gold == pred))
            continue
        common = sum((Counter(gold) & Counter(pred)).values())
        if common:
            p, r = common / len(pred), common / len(gold)
            best = max(best, 2 * p * r / (p + r))
    return best


def bbh_prediction(output: str) -> str:
    """First "the answer is X." match, else the stripped output; "NOANSWER" when empty."""
    m = _BBH_ANSWER.search(output)
    pred = m.group(1).strip() if m else output.strip()
    return pred or "NOANSWER"


def truthfulqa_scores(
    scores: dict[str, float], mc1: tuple[list[str], list[int]], mc2: tuple[list[str], list[int]]
) -> tuple[float, float]:
    """(MC1, MC2) from summed choice log-probs ``scores`` (choice text -> S)."""
    true1 = [scores[c] for c, lab in zip(*mc1) if lab == 1]
    false1 = [scores[c] for c, lab in zip(*mc1) if lab != 1]
    mc1_value = float(true1[0] > max(false1))
    all2 = np.asarray([scores[c] for c in mc2[0]])
    true2 = np.asarray([scores[c] for c, lab in zip(*mc2) if lab == 1])
    mc2_value = float(np.exp(logsumexp(true2) - logsumexp(all2))) if true2.size else 0.0
    return mc1_value, mc2_value


# ---- evaluation ------------------------------------------------------------------------------
def next_token_logits(ctx: EvalContext, prompts: Sequence[list[int]]) -> torch.Tensor:
    """Logits of the token after each prompt, [N, V] (right padding, last real position)."""
    pad = ctx.formatter.pad_id
    collate = lambda c: collate_right([Encoded(p, [IGNORE_INDEX] * len(p)) for p in c], pad)  # noqa: E731
    out = []
    with eval_mode(ctx.model):
        for idx, batch in batches(prompts, ctx.batch_size, collate, ctx.device, sort=False):
            logits = ctx.model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).logits
            last = batch["attention_mask"].sum(1) - 1
            out.append(logits[torch.arange(len(idx), device=logits.device), last].float().cpu())
    return torch.cat(out)


def evaluate_mmlu(records: list[MCItem], ctx: EvalContext) -> SetResult:
    prompts = [prompt_ids(ctx, mmlu_prompt(r), "Answer:", r) for r in records]
    cand = [
        ctx.tokenizer(" " + L, add_special_tokens=False)["input_ids"][-1] for L in CHOICE_LETTERS
    ]
    preds = next_token_logits(ctx, prompts)[:, cand].argmax(-1).tolist()
    result = SetResult()
    for rec, pred in zip(records, preds):
        result.items.append({"id": rec.id, "subject": rec.subject, "prediction": pred,
                             "answer": rec.answer, "correct": float(pred == rec.answer)})  # fmt: skip
    result.metrics["acc"] = float(np.mean([r["correct"] for r in result.items]))
    return result


def rwku_generate(ctx: EvalContext, prompts: list[list[int]], max_new_tokens: int) -> list[str]:
    """Greedy continuations through the run's backend (``eval.backend``), stopping on EOS and
    the end-of-turn token."""
    gen = ctx.generator or HFGenerator(ctx.model, ctx.tokenizer, ctx.batch_size, ctx.device)
    return gen(prompts, max_new_tokens, end_of_turn_ids(ctx.tokenizer))


def evaluate_bbh(records: list[QAItem], ctx: EvalContext) -> SetResult:
    users = [bbh_prompt(r) for r in records]
    prompts = [prompt_ids(ctx, u, answer_suffix(ctx, u, r), r) for u, r in zip(users, records)]
    outputs = rwku_generate(ctx, prompts, BBH_NEW_TOKENS)
    result = SetResult()
    for rec, out in zip(records, outputs):
        pred = bbh_prediction(out)
        em = exact_match(pred, rec.meta["answers"], keep_options=True)
        result.items.append({"id": rec.id, "subject": rec.subject, "generation": out,
                             "prediction": pred, "answers": rec.meta["answers"], "em": em})  # fmt: skip
    result.metrics["em"] = float(np.mean([r["em"] for r in result.items]))
    return result


def evaluate_truthfulqa(records: list[MCItem], ctx: EvalContext) -> SetResult:
    tok = ctx.tokenizer
    encoded: list[Encoded] = []
    index: list[dict[str, int]] = []
    for rec in records:
        user = QA_PRIMER + "\n\nQ: " + rec.question
        prompt = prompt_ids(ctx, user, answer_suffix(ctx, user, rec), rec)
        slots: dict[str, int] = {}
        for choice in dict.fromkeys([*rec.choices, *rec.meta["mc2_choices"]]):
            ids = list(tok(" " + choice, add_special_tokens=False)["input_ids"])
            if not ids:
                raise ObliviateError(f"RWKU {rec.id}: choice {choice!r} has no tokens")
            slots[choice] = len(encoded)
            encoded.append(Encoded(prompt + ids, [IGNORE_INDEX] * len(prompt) + ids))
        index.append(slots)
    stats = score(ctx.model, encoded, ctx.formatter.pad_id, ctx.batch_size, ctx.device)
    result = SetResult()
    for rec, slots in zip(records, index):
        sums = {c: float(stats[i].logprobs.sum()) for c, i in slots.items()}
        mc1, mc2 = truthfulqa_scores(
            sums, (rec.choices, rec.meta["mc1_labels"]),
            (rec.meta["mc2_choices"], rec.meta["mc2_labels"]),
        )  # fmt: skip
        result.items.append({"id": rec.id, "subject": rec.subject, "mc1": mc1, "mc2": mc2})
    result.metrics["mc1"] = float(np.mean([r["mc1"] for r in result.items]))
    result.metrics["mc2"] = float(np.mean([r["mc2"] for r in result.items]))
    return result


def evaluate_triviaqa(records: list[QAItem], ctx: EvalContext) -> SetResult:
    prompts = [prompt_ids(ctx, TRIVIAQA_SHOTS + f"Q: {r.question}\n", "A:", r) for r in records]
    outputs = rwku_generate(ctx, prompts, TRIVIAQA_NEW_TOKENS)
    result = SetResult()
    for rec, out in zip(records, outputs):
        refs = rec.meta["answers"]
        result.items.append({"id": rec.id, "subject": rec.subject, "generation": out,
                             "em": exact_match(out, refs), "f1": token_f1(out, refs)})  # fmt: skip
    result.metrics["em"] = float(np.mean([r["em"] for r in result.items]))
    result.metrics["f1"] = float(np.mean([r["f1"] for r in result.items]))
    return result


def evaluate_fluency(records: list[QAItem], ctx: EvalContext) -> SetResult:
    prompts = [prompt_ids(ctx, f"Instruction: {r.question}\n", "", r) for r in records]
    outputs = rwku_generate(ctx, prompts, FLUENCY_NEW_TOKENS)
    result = SetResult()
    for rec, out in zip(records, outputs):
        result.items.append({"id": rec.id, "subject": rec.subject, "generation": out,
                             "entropy": fluency_entropy(out)})  # fmt: skip
    result.metrics["entropy"] = float(np.mean([r["entropy"] for r in result.items]))
    return result


UTILITY_SETS = {
    "utility_gen": evaluate_mmlu,
    "utility_rea": evaluate_bbh,
    "utility_tru": evaluate_truthfulqa,
    "utility_fac": evaluate_triviaqa,
    "utility_flu": evaluate_fluency,
}
