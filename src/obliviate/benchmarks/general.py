"""General QA data for ``data.general`` (SPEC 2.6, 5.1 step 6): what ReLearn's ``general_ratio``
mixes into its augmented forget set, for any benchmark.

``benchmark.general``: ``""`` keeps the benchmark's own general data (a synthkb directory's
``general.jsonl``; none elsewhere); ``wiki_qa`` = HF ``microsoft/wiki_qa`` (Yang et al. 2015; ReLearn,
zjunlp/unlearn, mixes its positives), config ``default``, split ``train``, the rows with
``label == 1`` (the answer sentence answers the question; about 1k of the 20,360 rows), each as
``QAItem(question, answer, subject=document_title, id=question_id, kind="general")``.

Read through :func:`obliviate.benchmarks.hub.read_table`: from the hub, or from a local copy at
``benchmark.general_path`` laid out as on the hub. Schema (from the dataset card's features):
``question_id``, ``question``, ``document_title``, ``answer`` strings and ``label`` (ClassLabel
0/1, an int in the parquet rows). Inferred, not read from the repository: the hub file name
``data/train-00000-of-00001.parquet`` (the usual name of a script dataset converted to parquet);
the local layouts ``default/train.{json,jsonl,parquet}`` and the parquet export
``default/train/*.parquet`` are tried as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import section
from ..errors import ObliviateError, did_you_mean
from ..records import BenchmarkData, QAItem
from .hub import Schema, read_table


@section("benchmark")
@dataclass
class GeneralSettings:
    """``benchmark.*`` keys of the general-QA replacement (any benchmark)."""

    general: str = ""  # general QA for data.general: "" = the benchmark's own | wiki_qa
    general_path: str = ""  # local copy of the general set in the hub layout ("" = the hub)


WIKI_QA_REPO = "microsoft/wiki_qa"
WIKI_QA_FILE = "data/train-00000-of-00001.parquet"
WIKI_QA_SCHEMA: Schema = {
    "question_id": str, "question": str, "document_title": str, "answer": str, "label": int,
}  # fmt: skip
GENERAL_SETS = ("wiki_qa",)


def wiki_qa(path: str = "") -> list[QAItem]:
    """The positive (``label == 1``) train rows of WikiQA as general QA items."""
    table = read_table(WIKI_QA_REPO, path, "default", "train", WIKI_QA_SCHEMA, WIKI_QA_FILE,
                       keep=lambda row: row["label"] == 1)  # fmt: skip
    return [
        QAItem(question=r["question"], answer=r["answer"], subject=r["document_title"],
               id=r["question_id"], kind="general")
        for r in table.rows
    ]  # fmt: skip


def load_general(cfg: Any) -> list[QAItem]:
    """The general set named by ``benchmark.general`` (read from ``benchmark.general_path``)."""
    if cfg.general not in GENERAL_SETS:
        raise ObliviateError(
            f"benchmark.general={cfg.general!r} is unknown; "
            f"{did_you_mean(cfg.general, GENERAL_SETS)}, or '' for the benchmark's own"
        )
    items = wiki_qa(cfg.general_path)
    if not items:
        raise ObliviateError(f"benchmark.general={cfg.general!r}: no row has label 1")
    return items


def attach_general(data: BenchmarkData, cfg: Any) -> BenchmarkData:
    """``data`` with ``data.general`` replaced by ``benchmark.general``'s set when one is named."""
    if cfg.general:
        data.general = list(load_general(cfg))
    return data
