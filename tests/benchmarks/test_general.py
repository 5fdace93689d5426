"""benchmark.general=wiki_qa: a local copy of microsoft/wiki_qa in the hub layout (parquet, the
dataset card's features) becomes data.general of any benchmark, and ReLearn's general_ratio
mixes the expected, seeded number of its positives into the training data."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hub_copies import CONFIGS

from obliviate.benchmarks import load_benchmark
from obliviate.benchmarks.general import WIKI_QA_FILE
from obliviate.config import load_config
from obliviate.errors import ObliviateError
from obliviate.formatting import Formatter
from obliviate.methods import get_method_class
from obliviate.models.tiny import train_tokenizer

# (question_id, question, document_title, answer, label): Q1 and Q3 have two positive answers
ROWS = [
    ("Q1", "how are glacier caves formed?", "Glacier cave", "A partly submerged glacier cave.", 0),
    ("Q1", "how are glacier caves formed?", "Glacier cave", "Melting water forms the cave.", 1),
    ("Q1", "how are glacier caves formed?", "Glacier cave", "Warm air carves ice tunnels.", 1),
    ("Q2", "what is a cello?", "Cello", "The cello is a bowed string instrument.", 1),
    ("Q3", "where is Oslo?", "Oslo", "Oslo is the capital of Norway.", 1),
    ("Q3", "where is Oslo?", "Oslo", "Oslo has many museums.", 0),
    ("Q3", "where is Oslo?", "Oslo", "Oslo lies at the head of a fjord.", 1),
    ("Q4", "who wrote Emma?", "Emma (novel)", "Emma was published in 1815.", 0),
]
POSITIVES = [r for r in ROWS if r[4] == 1]
COLUMNS = ["question_id", "question", "document_title", "answer", "label"]


def write_wiki_qa(root: Path, rows: list[tuple] = ROWS) -> Path:
    """The hub layout: data/train-00000-of-00001.parquet with the card's columns and types."""
    table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(COLUMNS)})
    path = root / WIKI_QA_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return root


def test_wiki_qa_positives_become_general_data(knowundo_dir: Path, tmp_path: Path) -> None:
    wiki = write_wiki_qa(tmp_path / "wiki_qa")
    base = [f"benchmark.path={knowundo_dir}"]
    cfg = load_config(CONFIGS / "knowundo_privacy.yaml", base).benchmark
    assert load_benchmark(cfg).general == []  # KnowUnDo has no general data of its own
    cfg = load_config(
        CONFIGS / "knowundo_privacy.yaml",
        [*base, "benchmark.general=wiki_qa", f"benchmark.general_path={wiki}"],
    ).benchmark
    general = load_benchmark(cfg).general
    assert [(g.id, g.question, g.subject, g.answer, g.kind) for g in general] == [
        (qid, q, title, a, "general") for qid, q, title, a, _ in POSITIVES
    ]
    # any benchmark: synthkb built in memory too
    args = ["benchmark.people=6", "benchmark.general=wiki_qa", f"benchmark.general_path={wiki}"]
    mixed = load_benchmark(load_config(None, args).benchmark).general
    assert [g.question for g in mixed] == [r[1] for r in POSITIVES]


def test_wiki_qa_errors_name_the_key_and_the_file(tmp_path: Path) -> None:
    with pytest.raises(ObliviateError, match=r"benchmark.general='wikiqa' is unknown.*wiki_qa"):
        load_benchmark(
            load_config(None, ["benchmark.people=6", "benchmark.general=wikiqa"]).benchmark
        )
    wiki = tmp_path / "bad"
    table = pa.table({c: [str(r[i]) for r in ROWS] for i, c in enumerate(COLUMNS)})  # label: str
    (wiki / "data").mkdir(parents=True)
    pq.write_table(table, wiki / WIKI_QA_FILE)
    args = ["benchmark.people=6", "benchmark.general=wiki_qa", f"benchmark.general_path={wiki}"]
    with pytest.raises(
        ObliviateError, match=r"train-00000-of-00001\.parquet: record 0 field 'label' is a str"
    ):
        load_benchmark(load_config(None, args).benchmark)


def test_relearn_mixes_the_general_ratio_seeded(knowundo_dir: Path, tmp_path: Path) -> None:
    wiki = write_wiki_qa(tmp_path / "wiki_qa")
    cfg = load_config(
        CONFIGS / "knowundo_privacy.yaml",
        [f"benchmark.path={knowundo_dir}", "benchmark.general=wiki_qa",
         f"benchmark.general_path={wiki}"],
    )  # fmt: skip
    data = load_benchmark(cfg.benchmark)
    # one vague answer per forget item (the generated rows' shape, written by hand)
    data.extras["generated"] = {"relearn": [
        {"question": r.question, "answer": r.answer, "subject": r.subject,
         "questions": [r.question], "vague": ["That detail is private."]}
        for r in data.forget
    ]}  # fmt: skip
    fmt = Formatter(train_tokenizer(data.tokenizer_texts(), 400), "qa-tags", 128)
    general_ids = {tuple(fmt.encode_record(g).input_ids) for g in data.general}

    def built(ratio: float) -> list[tuple[int, ...]]:
        method = get_method_class("relearn")({"general_ratio": ratio, "completion": False})
        return [tuple(e.input_ids) for e in method.build_forget(data.forget, fmt, data)]

    n_pairs = len(data.forget)  # 6 forget items, one pair each, no completion items
    half = built(0.5)
    assert len(half) == n_pairs + 3  # int(0.5 * 6) general records appended
    assert set(half[n_pairs:]) <= general_ids and not set(half[:n_pairs]) & general_ids
    assert built(0.5) == half  # seeded
    assert sorted(built(10.0)[n_pairs:]) == sorted(general_ids)  # capped by the 5 positives
