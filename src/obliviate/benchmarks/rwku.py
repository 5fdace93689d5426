"""RWKU (Jin et al. 2024), HF ``jinzhuoran/RWKU``: real-world targets, probes and utility sets.

SPEC 2.3. ``benchmark.targets`` picks targets by their 1-based position in ``forget_target``
(the order RWKU numbers ``Target/{i}_{Name}``): ``"1"`` is the single-target setting, ``"1-10"``
(inclusive) or ``"1,4,7"`` the batch setting (one unlearning run over all of them; the suite
averages per target). Every other table is filtered to rows whose ``subject`` is a target.

Forget corpus (:mod:`.rwku_corpus`; ``benchmark.corpus``; ``benchmark.corpus_model`` = ``llama3`` | ``phi3``):

- ``positive``: ``train_positive_<model>`` bios, raw text (GA, NPO);
- ``passage``: ``train_original_passage`` Wikipedia passages, raw text (GA*);
- ``pair``: ``train_pair_<model>``: ``QAItem(prompt, answer=real bio,
  meta={"preferred": fabricated bio})``, also in ``extras["pairs"]`` (DPO);
- ``refusal``: ``train_refusal_<model>``: ``QAItem(instruction [+ "\\n" + input], refusal)``,
  also in ``extras["refusals"]`` (RT).

Generated corpora (SPEC 5.3; ``benchmark.corpus_dir``): RWKU's methods on a user's own targets.
``obliviate corpus`` writes ``<run>/generated/rwku_corpus/train_{positive,negative,pair,refusal}
.jsonl`` in the hub schemas (:mod:`obliviate.generate.rwku`); with ``corpus_dir`` set, the corpus
is read from ``<corpus_dir>/train_<corpus>.jsonl`` (``passage`` has no generated form), checked
with the same schemas (errors name file:line and field), kept to the selected targets and mapped
exactly as the hub rows (ids ``train_<corpus>/<i>``). A generated corpus is the model's own
output, not knowledge it was given: it never enters the tiny model's stand-in pretraining
(``finetune``), so the target is the same model before and after ``obliviate corpus``. The
generation step loads the benchmark with ``with_corpus=False`` (targets, intros, probes; an
empty forget set), since the corpus it writes cannot be read yet; every other use of a missing
file is an error naming the path and the command that writes it.

Eval sets: ``forget_fb`` / ``forget_qa`` / ``forget_aa`` (levels 1-3), ``neighbor_fb`` /
``neighbor_qa``, ``mia_forget`` / ``mia_retain`` (raw text), and utility ``utility_gen`` (MMLU),
``utility_rea`` (BBH), ``utility_tru`` (TruthfulQA), ``utility_fac`` (TriviaQA), ``utility_flu``
(AlpacaEval instructions). Utility rows are deduplicated across targets (they measure the model,
not the target). RWKU has no retain-train set: ``retain`` is empty.

RWKU unlearns a model that already knows the targets (``finetune.enabled=false``). For the tiny
offline model, ``finetune`` stands in for pretraining: forget and neighbour FB/QA probes in their
eval prompts, the ``mia_forget`` texts and the forget corpus when it is text (never
``mia_retain`` nor the adversarial probes).

The hub repository holds every config as one file under ``All/`` (``HUB_FILES``); a clone of it is
a valid ``benchmark.path``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import section
from ..errors import ObliviateError
from ..records import BenchmarkData, EvalSet, MCItem, Passage, QAItem, Record
from .hub import Row, Schema, read_table
from .registry import BenchmarkInfo, register_benchmark
from .rwku_corpus import check_corpus_settings, forget_corpus, retain_corpus


@section("benchmark")
@dataclass
class RWKUSettings:
    """``benchmark.*`` keys of the RWKU loader."""

    targets: str = "1"  # RWKU targets: "3", "1-10" (inclusive) or "1,4,7"
    corpus: str = "positive"  # RWKU forget corpus: positive | passage | pair | refusal
    corpus_model: str = "llama3"  # RWKU corpus generator: llama3 | phi3
    # RWKU: directory of generated corpora (`obliviate corpus` writes
    # <run>/generated/rwku_corpus/train_<corpus>.jsonl); "" = the hub corpus
    corpus_dir: str = ""
    # RWKU has no retain-train set (none); generated: <corpus_dir>/train_retain.jsonl, the model's
    # own biographies of generate.retain_targets (obliviate's addition, for retain-loss methods)
    retain: str = "none"


REPO = "jinzhuoran/RWKU"
# config -> (split, file in the hub repository)
HUB_FILES: dict[str, tuple[str, str]] = {
    "forget_target": ("train", "All/intro.json"),
    "forget_level1": ("test", "All/forget_level1.json"),
    "forget_level2": ("test", "All/forget_level2.json"),
    "forget_level3": ("test", "All/forget_level3.json"),
    "neighbor_level1": ("test", "All/neighbor_level1.json"),
    "neighbor_level2": ("test", "All/neighbor_level2.json"),
    "mia_forget": ("test", "All/forget_mia.json"),
    "mia_retain": ("test", "All/retain_mia.json"),
    "utility_general": ("test", "All/retain_mmlu.json"),
    "utility_reason": ("test", "All/retain_bbh.json"),
    "utility_truthfulness": ("test", "All/truthful.json"),
    "utility_factuality": ("test", "All/triviaqa.json"),
    "utility_fluency": ("test", "All/fluency.json"),
    "train_original_passage": ("train", "All/passage.json"),
    "train_positive_llama3": ("train", "All/positive.json"),
    "train_pair_llama3": ("train", "All/pair.json"),
    "train_refusal_llama3": ("train", "All/reject.json"),
    "train_positive_phi3": ("train", "All/positive_phi.json"),
    "train_pair_phi3": ("train", "All/pair_phi.json"),
    "train_refusal_phi3": ("train", "All/reject_phi.json"),
}
PROBE: Schema = {"query": str, "answer": str, "level": (str, int), "type": str, "subject": str}
SCHEMAS: dict[str, Schema] = {
    "forget_target": {"target": str, "intro": str},
    "mia": {"text": str, "subject": str},
    "utility_general": {"question": str, "choices": list, "answer": int, "task": str,
                        "examples": list, "subject": str},
    "utility_reason": {"task": str, "cot": str, "question": str, "answer": list, "subject": str},
    "utility_truthfulness": {"question": str, "mc1_targets": dict, "mc2_targets": dict,
                             "subject": str},
    "utility_factuality": {"question": str, "answers": list, "subject": str},
    "utility_fluency": {"instruction": str, "subject": str},
}  # fmt: skip

# ---- RWKU's evaluation prompts (SPEC 1.4): (user message, text appended after the template) ----
FB_PROMPT = "Please complete the blank in the following question.\nQuestion: {query}\n"
QA_PROMPT = "Please briefly answer the following question.\nQuestion: {query}\n"
AFFIRMATIVE_PROMPT = "Please briefly answer the following question.\nQuestion: {query}"
INCONTEXT_PROMPT = "Please briefly answer the following question.\n{query}\n"
ANSWER_SUFFIX = "Answer:"


def probe_prompt(rec: QAItem) -> tuple[str, str]:
    """(user message, suffix) of a forget/neighbour probe, as RWKU ``eval_forget.py`` builds it."""
    if rec.level == 1:
        return FB_PROMPT.format(query=rec.question), ANSWER_SUFFIX
    if rec.level == 3 and rec.adversarial_type == "affirmative suffix":
        return AFFIRMATIVE_PROMPT.format(query=rec.question), ""
    if rec.level == 3 and rec.adversarial_type == "incontext learning":
        return INCONTEXT_PROMPT.format(query=rec.question), ANSWER_SUFFIX
    return QA_PROMPT.format(query=rec.question), ANSWER_SUFFIX


def parse_targets(spec: str, count: int) -> list[int]:
    """``"3"`` -> [3]; ``"1-10"`` -> 1..10 (inclusive); ``"1,4,7"`` -> [1, 4, 7]."""
    numbers: list[int] = []
    for part in str(spec).replace(" ", "").split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise ObliviateError(
                f"benchmark.targets={spec!r}: expected a target number, a range 'a-b' "
                "(inclusive) or a comma-separated list, e.g. 1, 1-10, 1,4,7"
            )
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        numbers += range(lo, hi + 1)
    bad = [n for n in numbers if not 1 <= n <= count]
    if bad:
        raise ObliviateError(
            f"benchmark.targets={spec!r}: target {bad[0]} is out of range; accepted: 1..{count}"
        )
    return list(dict.fromkeys(numbers))


class _Reader:
    """Reads RWKU tables, keeping the rows of the selected targets."""

    def __init__(self, cfg: Any, subjects: set[str] | None = None):
        self.cfg = cfg
        self.subjects = subjects

    def rows(self, config: str, schema: Schema) -> list[Row]:
        split, hub_file = HUB_FILES[config]
        keep: Callable[[Row], bool] | None = None
        if self.subjects is not None:
            subjects = self.subjects
            keep = lambda row: row["subject"] in subjects  # noqa: E731
        return read_table(REPO, self.cfg.path, config, split, schema, hub_file, keep).rows


def _probes(rows: list[Row], config: str, kind: str) -> list[QAItem]:
    items = []
    for i, row in enumerate(rows):
        if str(row["level"]) not in ("1", "2", "3"):
            raise ObliviateError(
                f"RWKU {config} record {i}: field 'level' is {row['level']!r}; accepted: 1, 2, 3"
            )
        level = int(row["level"])
        items.append(
            QAItem(
                question=row["query"], answer=row["answer"], subject=row["subject"],
                id=f"{config}/{i}", kind=kind, level=level,
                adversarial_type=row["type"] if level == 3 else None,
                meta={"type": row["type"], **({"neighbor": row["neighbor"]} if "neighbor" in row else {})},
            )
        )  # fmt: skip
    return items


def _dedupe(records: list[Record], key: Callable[[Any], Any]) -> list[Record]:
    seen: set[Any] = set()
    out = []
    for rec in records:
        k = key(rec)
        if k not in seen:
            seen.add(k)
            out.append(rec)
    return out


def _utility(reader: _Reader) -> dict[str, list[Record]]:
    gen = [
        MCItem(question=r["question"], choices=list(r["choices"]), answer=r["answer"],
               subject=r["subject"], id=f"utility_general/{i}",
               meta={"task": r["task"], "examples": r["examples"]})
        for i, r in enumerate(reader.rows("utility_general", SCHEMAS["utility_general"]))
    ]  # fmt: skip
    rea = [
        QAItem(question=r["question"], answer=str(r["answer"][0]) if r["answer"] else "",
               subject=r["subject"], id=f"utility_reason/{i}", kind="bbh",
               meta={"task": r["task"], "cot": r["cot"], "answers": [str(a) for a in r["answer"]]})
        for i, r in enumerate(reader.rows("utility_reason", SCHEMAS["utility_reason"]))
    ]  # fmt: skip
    tru = []
    for i, r in enumerate(reader.rows("utility_truthfulness", SCHEMAS["utility_truthfulness"])):
        mc1, mc2 = r["mc1_targets"], r["mc2_targets"]
        for name, mc in (("mc1_targets", mc1), ("mc2_targets", mc2)):
            if not isinstance(mc.get("choices"), list) or not isinstance(mc.get("labels"), list):
                raise ObliviateError(
                    f"RWKU utility_truthfulness record {i}: field {name!r} needs lists "
                    "'choices' and 'labels'"
                )
        if 1 not in mc1["labels"] or 0 not in mc1["labels"]:
            raise ObliviateError(
                f"RWKU utility_truthfulness record {i}: mc1_targets needs a true and a false choice"
            )
        tru.append(
            MCItem(question=r["question"], choices=list(mc1["choices"]),
                   answer=list(mc1["labels"]).index(1), subject=r["subject"],
                   id=f"utility_truthfulness/{i}",
                   meta={"mc1_labels": list(mc1["labels"]), "mc2_choices": list(mc2["choices"]),
                         "mc2_labels": list(mc2["labels"])})
        )  # fmt: skip
    fac = [
        QAItem(question=r["question"], answer=str(r["answers"][0]) if r["answers"] else "",
               subject=r["subject"], id=f"utility_factuality/{i}", kind="triviaqa",
               meta={"answers": [str(a) for a in r["answers"]]})
        for i, r in enumerate(reader.rows("utility_factuality", SCHEMAS["utility_factuality"]))
    ]  # fmt: skip
    flu = [
        QAItem(question=r["instruction"], answer="", subject=r["subject"],
               id=f"utility_fluency/{i}", kind="instruction")
        for i, r in enumerate(reader.rows("utility_fluency", SCHEMAS["utility_fluency"]))
    ]  # fmt: skip
    for name, recs in (("utility_reason", rea), ("utility_factuality", fac)):
        empty = [r.id for r in recs if not r.meta["answers"]]
        if empty:
            raise ObliviateError(f"RWKU {name} record {empty[0]}: the reference list is empty")
    return {
        "utility_gen": _dedupe(gen, lambda r: (r.question, tuple(r.choices), r.answer)),
        "utility_rea": _dedupe(rea, lambda r: (r.question, r.meta["task"])),
        "utility_tru": _dedupe(tru, lambda r: r.question),
        "utility_fac": _dedupe(fac, lambda r: r.question),
        "utility_flu": _dedupe(flu, lambda r: r.question),
    }


def _as_training(rec: QAItem) -> QAItem:
    """A probe as the tiny model learns it: the eval prompt, then " " + answer."""
    user, suffix = probe_prompt(rec)
    return QAItem(question=user + suffix, answer=" " + rec.answer, subject=rec.subject,
                  id=f"train/{rec.id}", kind=rec.kind, level=rec.level)  # fmt: skip


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def check_not_probes(train: list[Record], sets: dict[str, list[Record]]) -> None:
    """No generated training question (``generate.forget_questions`` / ``retain_questions``
    rows) is a forget or neighbour probe, as its query or its RWKU eval prompt (compared
    lower-cased, punctuation and spacing ignored): training on the probes would score the
    test set it trained on."""
    probes = {_norm(text): name for name, recs in sets.items()
              if name.startswith(("forget_", "neighbor_"))
              for r in recs if isinstance(r, QAItem)
              for text in (r.question, probe_prompt(r)[0])}  # fmt: skip
    for rec in train:
        if isinstance(rec, QAItem) and _norm(rec.question) in probes:
            raise ObliviateError(
                f"RWKU: training question {rec.question!r} ({rec.id}) is a {probes[_norm(rec.question)]} "
                "probe; the forget/retain questions of `obliviate corpus` must not be probes "
                "(train-on-test): change generate.forget_questions / retain_questions"
            )


def load(cfg: Any, with_corpus: bool = True) -> BenchmarkData:
    """Map the selected RWKU targets onto the canonical records.

    ``with_corpus=False`` (the corpus-generation step, see the module docstring) leaves the
    forget set empty and reads no corpus; a corpus from ``corpus_dir`` is never part of
    ``finetune`` either way, so both loads give the same target model.
    """
    check_corpus_settings(cfg)
    generated = bool(cfg.corpus_dir)
    targets_rows = _Reader(cfg).rows("forget_target", SCHEMAS["forget_target"])
    numbers = parse_targets(cfg.targets, len(targets_rows))
    names = [targets_rows[n - 1]["target"] for n in numbers]
    reader = _Reader(cfg, set(names))
    sets: dict[str, list[Record]] = {
        "forget_fb": _probes(reader.rows("forget_level1", PROBE), "forget_level1", "fill_blank"),
        "forget_qa": _probes(reader.rows("forget_level2", PROBE), "forget_level2", "question"),
        "forget_aa": _probes(reader.rows("forget_level3", PROBE), "forget_level3", "adversarial"),
        "neighbor_fb": _probes(reader.rows("neighbor_level1", PROBE), "neighbor_level1", "neighbor"),
        "neighbor_qa": _probes(reader.rows("neighbor_level2", PROBE), "neighbor_level2", "neighbor"),
        "mia_forget": [Passage(r["text"], r["subject"], f"mia_forget/{i}")
                       for i, r in enumerate(reader.rows("mia_forget", SCHEMAS["mia"]))],
        "mia_retain": [Passage(r["text"], r["subject"], f"mia_retain/{i}")
                       for i, r in enumerate(reader.rows("mia_retain", SCHEMAS["mia"]))],
    }  # fmt: skip
    sets.update(_utility(reader))
    for name in ("forget_fb", "forget_qa", "forget_aa"):
        if not sets[name]:
            raise ObliviateError(f"RWKU: no {name} probes for targets {names}")
    forget = forget_corpus(cfg, reader, names) if with_corpus else []
    retain = retain_corpus(cfg) if with_corpus else []
    if generated:
        check_not_probes([*forget, *retain], sets)
    probes = [*sets["forget_fb"], *sets["forget_qa"], *sets["neighbor_fb"], *sets["neighbor_qa"]]
    stand_in = [_as_training(p) for p in probes]  # type: ignore[arg-type]
    corpus_text: list[Record] = []
    if not generated:  # the hub corpus is text the model to be unlearned knows
        corpus_text = [r for r in forget if isinstance(r, Passage)]
        corpus_text += [Passage(r.answer, r.subject, r.id) for r in forget
                        if isinstance(r, QAItem) and "preferred" in r.meta]  # fmt: skip
    neighbours = [_as_training(p) for p in [*sets["neighbor_fb"], *sets["neighbor_qa"]]]
    intros = {targets_rows[n - 1]["target"]: targets_rows[n - 1]["intro"] for n in numbers}
    extras: dict[str, Any] = {"forget_names": names, "targets": numbers, "corpus": cfg.corpus,
                              "intros": intros}  # fmt: skip
    if cfg.corpus == "pair":
        extras["pairs"] = list(forget)
    if cfg.corpus == "refusal":
        extras["refusals"] = list(forget)
    return BenchmarkData(
        name="rwku",
        finetune=[*stand_in, *sets["mia_forget"], *corpus_text],
        finetune_retain=neighbours,
        forget=forget,
        retain=retain,
        eval_sets={name: EvalSet(name, recs) for name, recs in sets.items()},
        extras=extras,
    )


register_benchmark(
    BenchmarkInfo(
        "rwku",
        "RWKU (jinzhuoran/RWKU): real people; benchmark.targets=1 | 1-10, benchmark.corpus",
        load,
        "rwku",
    )
)
