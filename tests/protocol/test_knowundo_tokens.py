"""Issue 19 item 1: under ``eval.protocol=paper`` KnowUnDo's token set and scores are KnowUnDo's.

Fixture ``fixtures/knowundo_tokens.json`` was computed by a transcription of KnowUnDo's code
(zjunlp/KnowUnDo @ 92aea2b83765a89e52600393c1bfc7f28c4db494) run outside the repository on the
inputs of :mod:`protocol.golden`:

- token ids and label masks: ``llm_unlearn/utils/save_tokenized_dataset.py`` lines 52-55
  (``text = q + "\\n\\n" + a``, ``labels = "\\n\\n" + a``, direct prompt prepended) and
  ``llm_unlearn/utils/llm_tokenize_with_chunk.py`` lines 20-50 (one string, cut to
  ``max_length``, the first ``len(tokenizer(text.replace(labels, "")))`` positions masked) and
  89-94 (pad ids -> -100), at ``max_length`` 256 and 26 (answers cut);
- the fine-tune token set: ``pretrain/data_module.py`` lines 43-67 with the llama2-7b tags of
  ``pretrain/config/model_config.yaml`` (answer tag ``"\n\n"``): ``"\n\n" + a`` and EOS labelled
  (KnowUnDo puts that EOS label on the first padding position; the fixture writes the EOS as
  the input there, which no loss reads);
- acc / ppl: ``llm_unlearn/run_eval_lora.py`` lines 578-627 (``preprocess_logits_for_metrics``,
  ``compute_min_k_ppl_acc`` at ratio 1) on ``build_tiny_model(kud_tokenizer(), "nano", seed=0)``.

Before the change obliviate put ``"\\n\\n"`` in the unlabelled prompt and labelled an EOS: every
comparison below failed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from obliviate.eval.suites.base import EvalContext
from obliviate.eval.suites.knowundo import KnowUnDoSuite
from obliviate.formatting import Formatter
from obliviate.models.tiny import build_tiny_model
from obliviate.records import BenchmarkData, EvalSet, QAItem
from protocol.golden import KUD_DIRECT_PROMPT, KUD_RECORDS, kud_tokenizer

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "knowundo_tokens.json").read_text())
CASES = {"plain_256": ("", 256), "prompt_256": (KUD_DIRECT_PROMPT, 256), "plain_26": ("", 26)}


@pytest.fixture(scope="module")
def tok():
    return kud_tokenizer()


@pytest.mark.parametrize("case", list(CASES))
def test_paper_token_set_is_knowundos(tok, case):
    prefix, max_length = CASES[case]
    fmt = Formatter(tok, "kud-nn", max_length, protocol="paper")
    for rec, want in zip(KUD_RECORDS, FIXTURE[case]):
        enc = fmt.encode_pair(rec["text"], rec["labels"], prefix)
        assert enc.input_ids == want["input_ids"]
        assert enc.labels == want["labels"]


def test_paper_finetune_token_set_is_knowundos(tok):
    fmt = Formatter(tok, "kud-nn", 500, protocol="paper")
    fmt.kud_eos = True  # what the fine-tune stage sets (RunModels.formatter(tok, "finetune"))
    for rec, want in zip(KUD_RECORDS, FIXTURE["finetune_500"]):
        enc = fmt.encode_pair(rec["text"], rec["labels"])
        assert (enc.input_ids, enc.labels) == (want["input_ids"], want["labels"])


def test_fixed_token_set_is_obliviates(tok):
    """``fixed``: the separator unlabelled, EOS appended and labelled (SPEC F1-F3)."""
    fmt = Formatter(tok, "kud-nn", 256, protocol="fixed")
    for rec, want in zip(KUD_RECORDS, FIXTURE["plain_256"]):
        enc = fmt.encode_pair(rec["text"], rec["labels"])
        sep = tok("\n\n", add_special_tokens=False)["input_ids"]
        n_sep = len(sep)
        assert enc.input_ids == want["input_ids"] + [tok.eos_token_id]
        labelled = [t for t in enc.labels if t != -100]
        assert labelled == [t for t in want["labels"] if t != -100][n_sep:] + [tok.eos_token_id]


def _data() -> BenchmarkData:
    recs = [QAItem(question=r["text"], answer=r["labels"], id=str(i))
            for i, r in enumerate(KUD_RECORDS)]  # fmt: skip
    sets = {
        "unlearn_val": EvalSet("unlearn_val", recs),
        "retention_val": EvalSet("retention_val", recs),
    }
    return BenchmarkData("knowundo", recs, recs, recs, recs, sets,
                         extras={"direct_prompt": KUD_DIRECT_PROMPT})  # fmt: skip


def test_paper_accuracy_and_perplexity_are_knowundos(tok):
    torch.manual_seed(0)
    model = build_tiny_model(tok, "nano", seed=0).eval()
    ctx = EvalContext(model, tok, Formatter(tok, "kud-nn", 256, protocol="paper"), batch_size=3)
    suite = KnowUnDoSuite()
    flat = suite.aggregate(suite.evaluate(_data(), ctx, ["unlearn_val", "unlearn_val_dp"]), None)
    want = FIXTURE["eval_nano_seed0"]
    assert flat["unlearn_val/acc"] == pytest.approx(want["plain"]["acc"], abs=1e-9)
    assert flat["unlearn_val/ppl"] == pytest.approx(want["plain"]["ppl"], rel=1e-5)
    assert flat["unlearn_val_dp/acc"] == pytest.approx(want["prompt"]["acc"], abs=1e-9)
    assert flat["unlearn_val_dp/ppl"] == pytest.approx(want["prompt"]["ppl"], rel=1e-5)
    assert flat["unlearn_success"] == pytest.approx(100 - want["plain"]["acc"], abs=1e-9)
    fixed = EvalContext(model, tok, Formatter(tok, "kud-nn", 256, protocol="fixed"), batch_size=3)
    other = suite.aggregate(suite.evaluate(_data(), fixed, ["unlearn_val"]), None)
    assert other["unlearn_val/ppl"] != pytest.approx(want["plain"]["ppl"], rel=1e-3)
