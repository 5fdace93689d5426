"""MUSE (Shi et al. 2024), HF ``muse-bench/MUSE-News`` and ``muse-bench/MUSE-Books``
(code swj0419/muse_bench; SPEC 2.4). ``benchmark.subset`` = ``News`` (default) | ``Books``.

| config     | splits (News rows)                                         | fields           |
|------------|------------------------------------------------------------|------------------|
| ``raw``      | forget 889, retain1 1777, retain2 1778, holdout 3043       | text             |
| ``verbmem``  | forget 100                                                 | prompt, gt       |
| ``knowmem``  | forget_qa, retain_qa 100; forget_qa_icl, retain_qa_icl 10  | question, answer |
| ``privleak`` | forget, retain, holdout 100                                | text             |
| ``scal``     | forget_1..4, nested (889 / 1778 / 2667 / 3554), News only  | text             |
| ``sust``     | forget_1..4, disjoint, News only                           | text             |

Older revisions name the retain QA splits ``retain2_qa`` / ``retain2_qa_icl`` and the privleak
retain split ``retain2``: either name is read (the newer first). ``benchmark.revision`` pins a hub revision (a commit or tag).

Roles: forget = ``raw/forget`` (or the fold ``benchmark.fold`` = ``scal/K`` | ``sust/K``, the
scalability / sustainability studies, ``obliviate sweep``); retain = ``raw/retain1`` (MUSE's
``unlearn_news.sh``: ``--retain_data_file raw/retain1``); eval sets ``forget_verbmem``,
``forget_knowmem``, ``retain_knowmem`` (the ``_icl`` pairs in ``extras["icl"]``),
``privleak_forget`` / ``privleak_retain`` / ``privleak_holdout``.

MUSE unlearns its released target (Llama-2-7B fine-tuned on the corpus; ``configs/muse_*.yaml``,
``finetune.enabled=false``). For the tiny offline model ``finetune`` stands in for that
fine-tuning: the raw forget, retain and fold texts, the privleak forget / retain texts and the
knowmem QA pairs in their eval prompt (never a holdout text); the retain ("gold") model learns
only the retain side. Texts are whole records cut at ``model.max_length``, unless
``benchmark.pack_tokens`` packs the forget and retain corpora into blocks of that many tokens
as MUSE's trainer does (:func:`pack`; ``configs/muse_news.yaml``: 2048, Llama-2's tokenizer).

Local copies (``benchmark.path``): the hub layout (``<config>/<split>.{json,jsonl,parquet}`` or
the parquet export), which is also what MUSE's ``load_data.py`` writes into ``data/<corpus>/``
(lists of strings for the text configs, read as ``{"text": ...}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import section
from ..errors import ObliviateError, did_you_mean
from ..records import BenchmarkData, EvalSet, Passage, QAItem, Record
from .hub import Row, Schema, Table, check_rows, local_candidates, read_hub, read_local, read_table
from .registry import BenchmarkInfo, register_benchmark


@section("benchmark")
@dataclass
class MUSESettings:
    """``benchmark.*`` keys of the MUSE loader (``subset``, ``revision``: WMDP's too)."""

    subset: str = ""  # MUSE corpus: News | Books (default News); WMDP forget corpora
    revision: str = ""  # hub dataset revision (commit or tag); "" = the default branch
    fold: str = ""  # MUSE forget set: "" (raw/forget) | scal/1..4 | sust/1..4 (News)
    # MUSE PrivLeak reference AUC; 0: MUSE's constant (a retain model evaluated in the run wins)
    auc_retrain: float = 0.0
    # MUSE: > 0 packs the forget / retain corpora into blocks of this many tokens (MUSE 2048)
    pack_tokens: int = 0
    pack_tokenizer: str = ""  # MUSE: the tokenizer packing counts with (hub id or directory)


CORPORA = {"news": "News", "books": "Books"}
TEXT: Schema = {"text": str}
QA: Schema = {"question": str, "answer": str}
VERBMEM: Schema = {"prompt": str, "gt": str}
FOLD = re.compile(r"(scal|sust)/([1-4])")
# MUSE constants.py AUC_RETRAIN[corpus]['forget_holdout_Min-40%'] (l. 62 news, l. 163 books):
# the retrained model's Min-40% AUC, PrivLeak's reference when no retain model is evaluated
AUC_RETRAIN = {"news": 0.47719999999999996, "books": 0.5392999999999999}


def knowmem_prompt(question: str, icl: list[tuple[str, str]]) -> str:
    """``"Question: {q}\\nAnswer: {a}\\n\\n"`` per in-context pair, then
    ``"Question: {question}\\nAnswer: "`` (MUSE ``metrics/knowmem.py`` l. 25-29)."""
    head = "".join(f"Question: {q}\nAnswer: {a}\n\n" for q, a in icl)
    return head + f"Question: {question}\nAnswer: "


def corpus_of(cfg: Any) -> str:
    """``benchmark.subset`` as MUSE's corpus key (``news`` | ``books``)."""
    key = (cfg.subset or "news").lower()
    if key not in CORPORA:
        raise ObliviateError(
            f"benchmark.subset={cfg.subset!r} is not a MUSE corpus; accepted: News, Books"
            f" ({did_you_mean(key, list(CORPORA))})"
        )
    return key


def repo_of(corpus: str) -> str:
    return f"muse-bench/MUSE-{CORPORA[corpus]}"


def read_rows(cfg: Any, repo: str, config: str, split: str, schema: Schema) -> Table:
    """Rows of (config, split) from a local copy (``benchmark.path``) or the hub (at
    ``benchmark.revision``), checked against ``schema``; a bare string row is ``{"text": s}``."""
    if cfg.path:
        table = read_local(Path(cfg.path).expanduser(), config, split)
        rows: list[Row] = [
            {"text": r} if isinstance(r, str) and list(schema) == ["text"] else r
            for r in table.rows
        ]
        check_rows(rows, table.where, schema)
        return Table(rows, table.where)
    if not cfg.revision:
        return read_table(repo, "", config, split, schema)
    table = read_hub(repo, config, split, revision=cfg.revision)
    check_rows(table.rows, table.where, schema)
    return table


def has_table(cfg: Any, config: str, split: str) -> bool:
    """Whether the local copy holds (config, split) (always True on the hub: tried there)."""
    if not cfg.path:
        return True
    root = Path(cfg.path).expanduser()
    for cand in local_candidates(root, config, split):
        if "*" in cand.name:
            if cand.parent.is_dir() and any(cand.parent.glob(cand.name)):
                return True
        elif cand.is_file():
            return True
    return False


def read_either(cfg: Any, repo: str, config: str, names: tuple[str, str], schema: Schema) -> Table:
    """(config, names[0]), else the older revisions' name names[1] (``retain_qa`` /
    ``retain2_qa``, privleak ``retain`` / ``retain2``); a bad record is never a fallback."""
    first, old = names
    if cfg.path:
        found = has_table(cfg, config, first) or not has_table(cfg, config, old)
        return read_rows(cfg, repo, config, first if found else old, schema)
    try:
        return read_rows(cfg, repo, config, first, schema)
    except ObliviateError as exc:
        if "lacks required field" in str(exc) or "is a " in str(exc):
            raise
        return read_rows(cfg, repo, config, old, schema)


def _retain_split(cfg: Any, repo: str, suffix: str) -> Table:
    """``knowmem/retain_qa{suffix}``, else the older ``retain2_qa{suffix}``."""
    return read_either(cfg, repo, "knowmem", (f"retain_qa{suffix}", f"retain2_qa{suffix}"), QA)


def _passages(table: Table, prefix: str) -> list[Passage]:
    if not table.rows:
        raise ObliviateError(f"{table.where}: the table is empty")
    return [Passage(r["text"], id=f"{prefix}/{i}") for i, r in enumerate(table.rows)]


def _qa(table: Table, prefix: str, kind: str = "knowmem") -> list[QAItem]:
    if not table.rows:
        raise ObliviateError(f"{table.where}: the table is empty")
    return [QAItem(question=r["question"], answer=r["answer"], id=f"{prefix}/{i}", kind=kind)
            for i, r in enumerate(table.rows)]  # fmt: skip


def parse_fold(cfg: Any, corpus: str) -> tuple[str, int] | None:
    """``benchmark.fold`` as (study, fold number), None for the raw forget set."""
    if not cfg.fold:
        return None
    m = FOLD.fullmatch(cfg.fold)
    if not m:
        raise ObliviateError(
            f"benchmark.fold={cfg.fold!r}: accepted: '' (raw/forget), scal/1..scal/4, sust/1..sust/4"
        )
    if corpus != "news":
        raise ObliviateError(f"benchmark.fold={cfg.fold!r}: MUSE-Books has no scal / sust folds")
    return m.group(1), int(m.group(2))


def fold_texts(cfg: Any, repo: str) -> dict[str, list[Passage]]:
    """Every scal / sust fold the copy holds (News), ``<study>/<k>`` -> passages."""
    out: dict[str, list[Passage]] = {}
    for study in ("scal", "sust"):
        for k in range(1, 5):
            if cfg.path and not has_table(cfg, study, f"forget_{k}"):
                continue
            table = read_rows(cfg, repo, study, f"forget_{k}", TEXT)
            out[f"{study}/{k}"] = _passages(table, f"{study}/forget_{k}")
    return out


def pack(texts: list[str], tokenizer: Any, block: int, prefix: str) -> list[Passage]:
    """MUSE's training blocks (``baselines/baselines/dataset.py`` l. 52-72, a ``.txt`` corpus):
    the texts joined with "\\n\\n" (as ``load_data.py`` l. 33 writes the ``.txt``), tokenised
    without special tokens, cut into consecutive blocks; a short last block is filled up with
    the first block's tokens (MUSE's rotation). MUSE's block is BOS + ``block − 1`` tokens; here
    a block holds ``block − 2`` tokens so that the trainer's BOS + text + EOS is ``block`` long
    (one text token fewer, an EOS more, and no BOS inside the rotated block). Each block is
    decoded to a passage (re-tokenised by the trainer)."""
    step = block - 2
    ids = list(tokenizer("\n\n".join(texts), add_special_tokens=False)["input_ids"])
    if not ids:
        raise ObliviateError(f"benchmark.pack_tokens: the {prefix} corpus has no tokens")
    chunks = [ids[i : i + step] for i in range(0, len(ids), step)]
    if len(chunks[-1]) < step:
        chunks[-1] = (chunks[-1] + chunks[0])[:step]
    return [Passage(tokenizer.decode(c), id=f"{prefix}/block{i}") for i, c in enumerate(chunks)]


def pack_tokenizer(cfg: Any) -> Any:
    """The tokenizer of ``benchmark.pack_tokenizer`` (required with ``pack_tokens``)."""
    if cfg.pack_tokens < 16:
        raise ObliviateError(f"benchmark.pack_tokens={cfg.pack_tokens}; accepted: 0 (off) or >= 16")
    if not cfg.pack_tokenizer:
        raise ObliviateError(
            "benchmark.pack_tokens needs benchmark.pack_tokenizer (a hub id or tokenizer "
            "directory; MUSE: meta-llama/Llama-2-7b-hf)"
        )
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(cfg.pack_tokenizer)
    except Exception as exc:  # network, auth, missing files: one readable error
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ObliviateError(
            f"benchmark.pack_tokenizer={cfg.pack_tokenizer!r} could not be loaded: {first}"
        ) from None


def _dedupe_text(records: list[Record]) -> list[Record]:
    seen: set[str] = set()
    out = []
    for rec in records:
        key = rec.text if isinstance(rec, Passage) else f"{rec.question}\x00{rec.answer}"  # type: ignore[union-attr]
        if key not in seen:
            seen.add(key)
            out.append(rec)
    return out


def _as_training(rec: QAItem, icl: list[tuple[str, str]]) -> QAItem:
    """A knowmem pair as the tiny model learns it: the eval prompt, then the answer."""
    return QAItem(question=knowmem_prompt(rec.question, icl), answer=rec.answer,
                  id=f"train/{rec.id}", kind=rec.kind)  # fmt: skip


def load(cfg: Any) -> BenchmarkData:
    """Map one MUSE corpus onto the canonical records."""
    corpus = corpus_of(cfg)
    if not 0.0 <= cfg.auc_retrain < 1.0:
        raise ObliviateError(
            f"benchmark.auc_retrain={cfg.auc_retrain}; accepted: 0 (MUSE's constant) or 0 < x < 1"
        )
    repo = repo_of(corpus)
    fold = parse_fold(cfg, corpus)
    raw = {s: _passages(read_rows(cfg, repo, "raw", s, TEXT), f"raw/{s}")
           for s in ("forget", "retain1", "retain2", "holdout")}  # fmt: skip
    verbmem = [
        QAItem(question=r["prompt"], answer=r["gt"], id=f"verbmem/forget/{i}", kind="verbmem")
        for i, r in enumerate(read_rows(cfg, repo, "verbmem", "forget", VERBMEM).rows)
    ]
    if not verbmem:
        raise ObliviateError(f"{repo} verbmem/forget: the table is empty")
    knowmem_forget = _qa(read_rows(cfg, repo, "knowmem", "forget_qa", QA), "knowmem/forget_qa")
    knowmem_retain = _qa(_retain_split(cfg, repo, ""), "knowmem/retain_qa")
    icl = {
        "forget": [(r["question"], r["answer"])
                   for r in read_rows(cfg, repo, "knowmem", "forget_qa_icl", QA).rows],
        "retain": [(r["question"], r["answer"]) for r in _retain_split(cfg, repo, "_icl").rows],
    }  # fmt: skip
    privleak = {s: _passages(read_rows(cfg, repo, "privleak", s, TEXT), f"privleak/{s}")
                for s in ("forget", "holdout")}  # fmt: skip
    retain_mia = read_either(cfg, repo, "privleak", ("retain", "retain2"), TEXT)
    privleak["retain"] = _passages(retain_mia, "privleak/retain")
    folds = fold_texts(cfg, repo) if corpus == "news" else {}
    forget: list[Record] = list(raw["forget"])
    if fold is not None:
        key = f"{fold[0]}/{fold[1]}"
        if key not in folds:
            raise ObliviateError(
                f"benchmark.fold={cfg.fold!r}: {repo} has no {fold[0]}/forget_{fold[1]}"
            )
        forget = list(folds[key])
    retain: list[Record] = list(raw["retain1"])
    if cfg.pack_tokens:  # MUSE's trainer's blocks (the stand-in fine-tuning keeps whole texts)
        tok = pack_tokenizer(cfg)
        forget = list(pack([r.text for r in forget], tok, cfg.pack_tokens, "forget"))  # type: ignore[union-attr]
        retain = list(pack([r.text for r in retain], tok, cfg.pack_tokens, "retain"))  # type: ignore[union-attr]
    holdout = {p.text for p in [*raw["holdout"], *privleak["holdout"]]}
    fold_pool = [p for recs in folds.values() for p in recs if p.text not in holdout]
    knowmem_train = [_as_training(r, icl["forget"]) for r in knowmem_forget]
    retain_train = [_as_training(r, icl["retain"]) for r in knowmem_retain]
    retain_side: list[Record] = [*raw["retain1"], *raw["retain2"], *privleak["retain"]]
    finetune = _dedupe_text([*raw["forget"], *fold_pool, *privleak["forget"], *retain_side,
                             *knowmem_train, *retain_train])  # fmt: skip
    eval_sets: dict[str, list[Record]] = {
        "forget_verbmem": list(verbmem),
        "forget_knowmem": list(knowmem_forget),
        "retain_knowmem": list(knowmem_retain),
        "privleak_forget": list(privleak["forget"]),
        "privleak_retain": list(privleak["retain"]),
        "privleak_holdout": list(privleak["holdout"]),
    }
    return BenchmarkData(
        name="muse",
        finetune=finetune,
        finetune_retain=_dedupe_text([*retain_side, *retain_train]),
        forget=forget,
        retain=retain,
        eval_sets={name: EvalSet(name, recs) for name, recs in eval_sets.items()},
        extras={
            "corpus": corpus,
            "repo": repo,
            "icl": icl,
            "auc_retrain": cfg.auc_retrain or AUC_RETRAIN[corpus],
            "fold": cfg.fold,
            "folds": {k: len(v) for k, v in folds.items()},
        },  # fmt: skip
    )


register_benchmark(
    BenchmarkInfo(
        "muse",
        "MUSE (muse-bench/MUSE-News, MUSE-Books): benchmark.subset=News|Books, "
        "benchmark.fold=scal/K|sust/K; sets forget_verbmem, forget_knowmem, retain_knowmem, "
        "privleak_forget/retain/holdout",
        load,
        "muse",
    )
)
