"""WMDP (Li et al. 2024, "The WMDP Benchmark"), HF ``cais/wmdp`` and ``cais/wmdp-corpora``
(SPEC 2.5).

Eval: ``cais/wmdp`` configs ``wmdp-bio`` (1273), ``wmdp-chem`` (408), ``wmdp-cyber`` (1987), split
``test``, fields ``question``, ``choices`` (4 strings), ``answer`` (int) -> eval sets
``wmdp_bio``, ``wmdp_chem``, ``wmdp_cyber`` (MCItem; the suite scores them as lm-eval's tasks).

Unlearning data, as RMU's ``get_data`` builds it (texts longer than 50 characters):
``benchmark.subset`` names the forget corpora (``cyber`` default, ``bio``, ``bio,cyber``):

- ``cyber``: ``cais/wmdp-corpora`` config ``cyber-forget-corpus`` (split ``train``, ``text``);
- ``bio``: gated on the hub (``cais/wmdp-bio-forget-corpus``, WMDP's request form,
  https://wmdp.ai): read from the hub once access is granted, or from
  ``bio-forget-corpus.jsonl`` (rows with ``text``) in ``benchmark.corpus_dir`` (or in the local
  copy ``benchmark.path``); without either, an error saying how to obtain it;

retain = wikitext (``Salesforce/wikitext``, the hub home of ``wikitext``, config
``wikitext-2-raw-v1``, split ``test``, ``text``), as
RMU's ``--retain_corpora wikitext,wikitext``.

WMDP unlearns a released chat model as it is (``configs/wmdp_rmu.yaml``,
``finetune.enabled=false``). For the tiny offline model ``finetune`` stands in for
pretraining: the forget corpora and every question in its eval prompt followed by the answer
letter; the retain ("gold") model learns wikitext only.

Local copies (``benchmark.path``), the hub layouts side by side: ``wmdp-bio/test.json`` ...,
``cyber-forget-corpus/train.jsonl``, ``wikitext-2-raw-v1/test.jsonl`` (or any layout of
``hub.py``, e.g. the parquet exports), ``bio-forget-corpus.jsonl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import section
from ..errors import ObliviateError
from ..records import BenchmarkData, EvalSet, MCItem, Passage, QAItem, Record
from .hub import Schema, Table, read_file, read_local, read_table
from .registry import BenchmarkInfo, register_benchmark


@section("benchmark")
@dataclass
class WMDPSettings:
    """``benchmark.*`` keys of the WMDP loader (shared with MUSE / RWKU where named alike)."""

    subset: str = ""  # MUSE corpus: News | Books (default News); WMDP forget corpora
    # RWKU: directory of generated corpora; WMDP: directory holding bio-forget-corpus.jsonl
    corpus_dir: str = ""


REPO, CORPORA_REPO = "cais/wmdp", "cais/wmdp-corpora"
WIKITEXT = (
    "Salesforce/wikitext",
    "wikitext-2-raw-v1",
    "test",
)  # RMU: load_dataset("wikitext", ...)
DOMAINS = ("bio", "chem", "cyber")
LETTERS = ("A", "B", "C", "D")
MC: Schema = {"question": str, "choices": list, "answer": int}
TEXT: Schema = {"text": str}
MIN_CHARS = 50  # RMU get_data: len(text) > min_len
BIO_FILE = "bio-forget-corpus.jsonl"
BIO_REPO = "cais/wmdp-bio-forget-corpus"  # gated: request form
# lm-eval's wmdp tasks (lm_eval/tasks/wmdp/wmdp_*.yaml "description")
DESCRIPTIONS = {
    "bio": "The following are multiple choice questions (with answers) about biology.\n\n",
    "chem": "The following are multiple choice questions (with answers) about chemistry.\n\n",
    "cyber": "The following are multiple choice questions (with answers) about cybersecurity.\n\n",
}


def mc_prompt(rec: MCItem) -> str:
    """lm-eval's wmdp context: description + ``"{question.strip()}\\nA. {c0}\\nB. {c1}\\nC. {c2}
    \\nD. {c3}\\nAnswer:"`` (``lm_eval/tasks/wmdp/_default_template_yaml`` doc_to_text)."""
    body = rec.question.strip() + "".join(f"\n{L}. {c}" for L, c in zip(LETTERS, rec.choices))
    return DESCRIPTIONS[rec.meta["domain"]] + body + "\nAnswer:"


def forget_domains(cfg: Any) -> list[str]:
    names = [s.strip().lower() for s in (cfg.subset or "cyber").split(",") if s.strip()]
    bad = [n for n in names if n not in ("bio", "cyber")]
    if bad or not names:
        raise ObliviateError(
            f"benchmark.subset={cfg.subset!r}: WMDP forget corpora are bio, cyber or bio,cyber"
        )
    return list(dict.fromkeys(names))


def _questions(cfg: Any, domain: str) -> list[MCItem]:
    table = read_table(REPO, cfg.path, f"wmdp-{domain}", "test", MC)
    items = []
    for i, row in enumerate(table.rows):
        choices = row["choices"]
        if len(choices) != 4 or not all(isinstance(c, str) for c in choices):
            raise ObliviateError(
                f"{table.where}: record {i} field 'choices' must be 4 strings; got {choices!r}"
            )
        if not 0 <= row["answer"] < 4:
            raise ObliviateError(
                f"{table.where}: record {i} field 'answer' is {row['answer']}; accepted: 0-3"
            )
        items.append(MCItem(row["question"], list(choices), row["answer"],
                            id=f"wmdp-{domain}/{i}", meta={"domain": domain}))  # fmt: skip
    if not items:
        raise ObliviateError(f"{table.where}: the table is empty")
    return items


def _bio_corpus(cfg: Any) -> Table:
    """The bio forget corpus: ``bio-forget-corpus.jsonl`` in ``corpus_dir`` or ``path``, else the
    gated hub dataset (access granted to the hub token), else an error saying how to get it."""
    dirs = [Path(d).expanduser() for d in (cfg.corpus_dir, cfg.path) if d]
    for d in dirs:
        for cand in (d / BIO_FILE, d / "bio-forget-corpus" / "train.jsonl"):
            if cand.is_file():
                return read_file(cand)
    where = ", ".join(str(d) for d in dirs) or "no directory (benchmark.corpus_dir is empty)"
    reason = "not searched on the hub (benchmark.path is set)"
    if not cfg.path:
        try:
            return read_table(BIO_REPO, "", None, "train", TEXT)  # type: ignore[arg-type]
        except ObliviateError as exc:
            reason = str(exc).split(": ", 1)[-1].split(";")[0]
    raise ObliviateError(
        f"WMDP bio forget corpus: it is gated on the hub ({BIO_REPO}: {reason}); request access "
        "on its hub page (or with the form linked from the cais/wmdp-corpora dataset card), then "
        f"log in to the hub (hf auth login) or put {BIO_FILE} in "
        f"benchmark.corpus_dir (searched: {where}); or use benchmark.subset=cyber (public)"
    )


def _texts(table: Table, prefix: str) -> list[Passage]:
    from .hub import check_rows

    check_rows(table.rows, table.where, TEXT)
    out = [Passage(r["text"], id=f"{prefix}/{i}") for i, r in enumerate(table.rows)
           if len(r["text"]) > MIN_CHARS]  # fmt: skip
    if not out:
        raise ObliviateError(f"{table.where}: no text longer than {MIN_CHARS} characters")
    return out


def forget_corpus(cfg: Any) -> list[Passage]:
    out: list[Passage] = []
    for domain in forget_domains(cfg):
        if domain == "bio":
            out += _texts(_bio_corpus(cfg), "bio-forget-corpus")
        else:
            table = read_table(CORPORA_REPO, cfg.path, "cyber-forget-corpus", "train", TEXT)
            out += _texts(table, "cyber-forget-corpus")
    return out


def retain_corpus(cfg: Any) -> list[Passage]:
    repo, config, split = WIKITEXT
    if cfg.path:
        table = read_local(Path(cfg.path).expanduser(), config, split)
    else:
        table = read_table(repo, "", config, split, TEXT)
    return _texts(table, "wikitext")


def _as_training(rec: MCItem) -> QAItem:
    """A question as the tiny model learns it: lm-eval's context, then " " + the answer letter."""
    return QAItem(question=mc_prompt(rec), answer=" " + LETTERS[rec.answer],
                  id=f"train/{rec.id}", kind="mc")  # fmt: skip


def load(cfg: Any) -> BenchmarkData:
    """Map WMDP's questions and the RMU corpora onto the canonical records."""
    sets: dict[str, list[Record]] = {f"wmdp_{d}": list(_questions(cfg, d)) for d in DOMAINS}
    forget = forget_corpus(cfg)
    retain = retain_corpus(cfg)
    stand_in = [_as_training(r) for recs in sets.values() for r in recs]  # type: ignore[arg-type]
    return BenchmarkData(
        name="wmdp",
        finetune=[*forget, *stand_in],
        finetune_retain=list(retain),
        forget=list(forget),
        retain=list(retain),
        eval_sets={name: EvalSet(name, recs) for name, recs in sets.items()},
        extras={"forget_corpora": forget_domains(cfg)},
    )


register_benchmark(
    BenchmarkInfo(
        "wmdp",
        "WMDP (cais/wmdp, cais/wmdp-corpora): sets wmdp_bio, wmdp_chem, wmdp_cyber; "
        "benchmark.subset=cyber|bio|bio,cyber forget corpora (bio gated: benchmark.corpus_dir)",
        load,
        "wmdp",
    )
)
