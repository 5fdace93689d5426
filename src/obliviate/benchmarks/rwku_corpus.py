"""RWKU's forget corpora (SPEC 2.3, 5.3): the hub tables or a generated directory, as records.

``benchmark.corpus`` ∈ positive | passage | pair | refusal, ``benchmark.corpus_model`` ∈ llama3 |
phi3 (the hub's generators); ``benchmark.corpus_dir`` reads ``<dir>/train_<corpus>.jsonl`` written
by ``obliviate corpus`` instead, checked line by line with the hub schemas (errors name file:line
and field). Mapping: text -> ``Passage``; pair -> ``QAItem(prompt, answer=real bio,
meta={"preferred": fabricated bio})``; refusal -> ``QAItem(instruction [+ "\\n" + input],
refusal)``; ids ``<table>/<i>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import ObliviateError, did_you_mean
from ..io import json_lines
from ..records import Passage, QAItem, Record
from .hub import Row, Schema, check_rows

CORPORA = ("positive", "passage", "pair", "refusal")
CORPUS_MODELS = ("llama3", "phi3")
RETAIN_CORPORA = ("none", "generated")
PASSAGE_ROW: Schema = {"text": str, "subject": str}
RETAIN_QA_ROW: Schema = {"question": str, "answer": str, "subject": str}
CORPUS_SCHEMAS: dict[str, Schema] = {
    "passage": PASSAGE_ROW,
    "positive": PASSAGE_ROW,
    "pair": {"prompt": str, "response": list, "subject": str},
    "refusal": {"instruction": str, "input": str, "output": str, "subject": str},
}


class TableReader(Protocol):
    """What reads an RWKU table, already kept to the selected targets (``rwku._Reader``)."""

    def rows(self, config: str, schema: Schema) -> list[Row]: ...


def check_corpus_settings(cfg: Any) -> None:
    """Reject an unknown ``benchmark.corpus`` / ``corpus_model``, and ``passage`` with a
    ``corpus_dir`` (RWKU's Wikipedia passages have no generated form)."""
    if cfg.corpus not in CORPORA:
        raise ObliviateError(
            f"benchmark.corpus={cfg.corpus!r} is unknown; {did_you_mean(cfg.corpus, CORPORA)}"
        )
    if cfg.corpus_model not in CORPUS_MODELS:
        raise ObliviateError(
            f"benchmark.corpus_model={cfg.corpus_model!r} is unknown; "
            f"{did_you_mean(cfg.corpus_model, CORPUS_MODELS)}"
        )
    if cfg.retain not in RETAIN_CORPORA:
        raise ObliviateError(
            f"benchmark.retain={cfg.retain!r} is unknown; {did_you_mean(cfg.retain, RETAIN_CORPORA)}"
        )
    if cfg.retain == "generated" and not cfg.corpus_dir:
        raise ObliviateError(
            "benchmark.retain=generated reads <benchmark.corpus_dir>/train_retain.jsonl: set "
            "benchmark.corpus_dir (RWKU's hub has no retain-train set)"
        )
    if cfg.corpus_dir and cfg.corpus == "passage":
        raise ObliviateError(
            "benchmark.corpus=passage has no generated form (RWKU's Wikipedia passages): with "
            "benchmark.corpus_dir set, accepted: positive, pair, refusal"
        )


@dataclass(frozen=True)
class CorpusRows:
    """Forget-corpus rows with their id prefix and, per row, where it came from (for errors)."""

    rows: list[Row]
    name: str
    where: list[str]


def hub_corpus(reader: TableReader, corpus: str, model: str) -> CorpusRows:
    """The hub table of ``corpus`` by ``model`` (``train_original_passage`` for passages)."""
    config = "train_original_passage" if corpus == "passage" else f"train_{corpus}_{model}"
    rows = reader.rows(config, CORPUS_SCHEMAS[corpus])
    return CorpusRows(rows, config, [f"RWKU {config} record {i}" for i in range(len(rows))])


def generated_corpus_path(cfg: Any, corpus: str | None = None) -> Path:
    """``<benchmark.corpus_dir>/train_<corpus or benchmark.corpus>.jsonl``."""
    return Path(cfg.corpus_dir).expanduser() / f"train_{corpus or cfg.corpus}.jsonl"


def generated_corpus(cfg: Any, subjects: set[str] | None, corpus: str | None = None) -> CorpusRows:
    """The generated corpus file, checked line by line, rows of ``subjects`` (None: all)."""
    corpus = corpus or cfg.corpus
    path = generated_corpus_path(cfg, corpus)
    if not path.is_file():
        hint = " with generate.retain_targets set" if corpus == "retain" else ""
        raise ObliviateError(
            f"benchmark.corpus_dir={cfg.corpus_dir!r}: {path} does not exist; `obliviate corpus "
            f"CONFIG generate.backend=hf|vllm|openai`{hint} writes the generated corpora to "
            "<run>/generated/rwku_corpus/ (point benchmark.corpus_dir there)"
        )
    schema = CORPUS_SCHEMAS["positive" if corpus == "retain" else corpus]
    rows, where = [], []
    for lineno, row in json_lines(path):
        qa = corpus in ("retain", "positive") and isinstance(row, dict) and "question" in row
        check_rows([row], f"{path}:{lineno}", RETAIN_QA_ROW if qa else schema)
        if subjects is None or row["subject"] in subjects:
            rows.append(row)
            where.append(f"{path}:{lineno}")
    return CorpusRows(rows, f"train_{corpus}", where)


def retain_corpus(cfg: Any) -> list[Record]:
    """``benchmark.retain=generated``: every row of ``<corpus_dir>/train_retain.jsonl``, a text
    row as a ``Passage``, a question/answer row as a ``QAItem`` (ids ``train_retain/<i>``);
    ``none`` (RWKU): no retain set."""
    if cfg.retain == "none":
        return []
    src = generated_corpus(cfg, None, "retain")
    if not src.rows:
        raise ObliviateError(f"benchmark.retain=generated: {generated_corpus_path(cfg, 'retain')} "
                             "has no rows")  # fmt: skip
    return [
        QAItem(question=r["question"], answer=r["answer"], subject=r["subject"],
               id=f"{src.name}/{i}") if "question" in r
        else Passage(r["text"], r["subject"], f"{src.name}/{i}")
        for i, r in enumerate(src.rows)
    ]  # fmt: skip


def corpus_records(src: CorpusRows, corpus: str) -> list[Record]:
    """Corpus rows as records: text -> Passage; a generated positive question/answer row
    (``generate.forget_questions``) -> QAItem(question, answer); pair -> QAItem(prompt, real,
    preferred=fake); refusal -> QAItem(instruction [+ "\\n" + input], refusal)."""
    name, rows = src.name, src.rows
    if corpus in ("passage", "positive"):
        return [
            QAItem(question=r["question"], answer=r["answer"], subject=r["subject"],
                   id=f"{name}/{i}") if "question" in r
            else Passage(r["text"], r["subject"], f"{name}/{i}")
            for i, r in enumerate(rows)
        ]  # fmt: skip
    if corpus == "pair":
        out: list[Record] = []
        for i, r in enumerate(rows):
            resp = r["response"]
            if len(resp) != 2 or not all(isinstance(x, str) for x in resp):
                raise ObliviateError(
                    f"{src.where[i]}: field 'response' must be [fabricated, real] strings"
                )
            out.append(QAItem(question=r["prompt"], answer=resp[1], subject=r["subject"],
                              id=f"{name}/{i}", meta={"preferred": resp[0]}))  # fmt: skip
        return out
    return [
        QAItem(question=r["instruction"] + ("\n" + r["input"] if r["input"] else ""),
               answer=r["output"], subject=r["subject"], id=f"{name}/{i}", kind="refusal")
        for i, r in enumerate(rows)
    ]  # fmt: skip


def forget_corpus(cfg: Any, reader: TableReader, names: list[str]) -> list[Record]:
    """The forget set of targets ``names``: the generated corpus when ``corpus_dir`` is set,
    else the hub's; an empty result is an error naming its origin."""
    if cfg.corpus_dir:
        src = generated_corpus(cfg, set(names))
    else:
        src = hub_corpus(reader, cfg.corpus, cfg.corpus_model)
    forget = corpus_records(src, cfg.corpus)
    if not forget:
        origin = str(generated_corpus_path(cfg)) if cfg.corpus_dir else src.name
        raise ObliviateError(
            f"RWKU: the {cfg.corpus} corpus ({origin}) has no rows for targets {names}"
        )
    return forget
