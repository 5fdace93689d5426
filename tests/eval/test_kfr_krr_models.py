"""KFR / KRR plumbing with tiny randomly initialised models saved to disk (no hub)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertModel

from obliviate.config import KFRKRRConfig
from obliviate.errors import ObliviateError
from obliviate.eval.kfr_krr import (
    Embedder,
    LLMEntityExtractor,
    NLIModel,
    RegexEntityExtractor,
    build_judge,
    parse_entity_list,
)
from obliviate.eval.metrics import kfr_krr as rules

LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}


def _bert_config(tokenizer, **kw) -> BertConfig:
    return BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                      num_attention_heads=2, intermediate_size=64,
                      pad_token_id=tokenizer.pad_token_id, **kw)  # fmt: skip


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, tokenizer):
    root = tmp_path_factory.mktemp("judges")
    torch.manual_seed(0)
    nli = BertForSequenceClassification(
        _bert_config(tokenizer, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    )
    emb = BertModel(_bert_config(tokenizer))
    for name, model in (("nli", nli), ("emb", emb)):
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
    return root


def test_regex_and_llm_extractors() -> None:
    text = 'Mara Kolb wrote "The Silent Harbour" on 12 March 1961; mail mara.kolb@lumen.org.'
    assert RegexEntityExtractor()("", text) == [
        "Mara Kolb", "The Silent Harbour", "12 March 1961", "mara.kolb@lumen.org",
    ]  # fmt: skip
    assert parse_entity_list(' Oslo, "Mara Kolb",\n, Oslo ') == ["Oslo", "Mara Kolb"]
    calls = []
    extractor = LLMEntityExtractor(lambda prompt: calls.append(prompt) or "Oslo, pilot")
    assert extractor("q", "a") == ["Oslo", "pilot"] and extractor("q", "a") == ["Oslo", "pilot"]
    assert len(calls) == 1 and ">>>query:q\nresponse:a<<<" in calls[0]  # cached


def test_nli_and_embedder_match_manual_forward(model_dirs, tokenizer) -> None:
    nli = NLIModel(str(model_dirs / "nli"), batch_size=2)
    premises, hyps = ["Mara Kolb was born in Oslo.", "Jon Berg"], ["Oslo", "a carpenter"]
    got = nli.labels(premises, hyps)
    with torch.no_grad():
        enc = tokenizer(premises, hyps, padding=True, return_tensors="pt")
        enc.pop("token_type_ids", None)
        want = [LABELS[i] for i in nli.model(**enc).logits.argmax(-1).tolist()]
    assert got == want
    emb = Embedder(str(model_dirs / "emb"), batch_size=1)
    vectors = emb.encode(["Oslo", "Mara Kolb"])
    with torch.no_grad():
        ids = tokenizer("Mara Kolb", return_tensors="pt")
        ids.pop("token_type_ids", None)
        mean = emb.model(**ids).last_hidden_state[0].mean(0).numpy()
    assert vectors.shape == (2, 32) and np.allclose(vectors[1], mean, atol=1e-5)


def test_judge_applies_the_rules(model_dirs) -> None:
    cfg = KFRKRRConfig(nli_model=str(model_dirs / "nli"), embedding_model=str(model_dirs / "emb"))
    judge = build_judge(cfg)
    queries = ["Where was Mara Kolb born?", "Who is Jon Berg?"]
    gens = ["Mara Kolb was born in Oslo on 12 March 1961.", "I do not know."]
    truths = ["Mara Kolb was born in Vesby.", "Jon Berg is a carpenter at Lumen Works."]
    for forget in (True, False):
        rows = judge.judge(queries, gens, truths, forget)
        for row in rows:
            assert not set(row["entities_pred"]) & {"Mara Kolb"}  # overlaps the query: dropped
            e, label, n = row["entity_score"], row["nli"], len(row["entities_gt"])
            if forget:
                assert row["kfr"] == float(rules.forgotten(label, e, n))
            else:
                assert row["krr"] == float(rules.retained(label, e))
        assert rows[1]["entity_score"] == 0.0  # "I do not know." has no entity


def test_llm_extractor_from_config_asks_the_chat_backend(model_dirs) -> None:
    cfg = KFRKRRConfig(nli_model=str(model_dirs / "nli"), embedding_model=str(model_dirs / "emb"),
                       entity_extractor="llm")  # fmt: skip
    prompts: list[str] = []
    judge = build_judge(cfg, chat=lambda p: prompts.append(p) or "Vesby, Mara Kolb, pilot")
    row = judge.judge(["Where was Mara Kolb born?"], ["In Vesby."], ["Vesby."], True)[0]
    assert len(prompts) == 2  # the generation and the ground truth, each asked once
    assert row["entities_pred"] == ["Vesby", "pilot"]  # "Mara Kolb" overlaps the query
    with pytest.raises(ObliviateError, match="generate.backend"):
        build_judge(cfg)  # llm without a chat backend


def test_judge_configuration_errors(model_dirs) -> None:
    with pytest.raises(
        ObliviateError, match="entity_extractor='spacy' is unknown; accepted: regex, llm"
    ):
        build_judge(KFRKRRConfig(entity_extractor="spacy"))
    with pytest.raises(ObliviateError, match="needed"):
        NLIModel(str(model_dirs / "emb"))  # no contradiction label
    with pytest.raises(ObliviateError, match="could not be loaded"):
        Embedder(str(model_dirs / "missing"))
