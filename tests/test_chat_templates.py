"""Chat-template correctness on five tokenizer families (Llama-3, ChatML/Qwen2, Phi-3, Gemma-2,
GPT-2 without a template): a formatted example is the model's own ``apply_chat_template``
rendering + the answer + the template's turn end; BOS once; generation stops at the turn end."""

from __future__ import annotations

import pytest
import torch
from chat_families import FAMILIES, build_model, build_tokenizer

from obliviate.errors import ObliviateError
from obliviate.formatting import IGNORE_INDEX, Formatter
from obliviate.generation.hf import generate, stop_token_ids
from obliviate.models.loading import ensure_pad

Q, A = "What is the capital of Norland?", "The capital of Norland is Vesby."
CHAT_FAMILIES = [n for n, f in FAMILIES.items() if f.template]


@pytest.fixture(scope="module")
def tokenizers():
    out = {}
    for name, family in FAMILIES.items():
        tok = build_tokenizer(family)
        ensure_pad(tok)
        out[name] = tok
    return out


def _ids(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("name", CHAT_FAMILIES)
def test_formatted_example_is_the_templates_own_rendering(tokenizers, name):
    tok, family = tokenizers[name], FAMILIES[name]
    fmt = Formatter(tok, "auto", max_length=256)
    assert fmt.kind == "chat"
    assert fmt.turn_end == family.turn_end  # derived by rendering, not written per family
    assert fmt.stop_ids[0] == tok.convert_tokens_to_ids(family.stop)
    enc = fmt.encode_pair(Q, A)
    own = tok.apply_chat_template([{"role": "user", "content": Q}], add_generation_prompt=True)
    own_ids = list(own["input_ids"])
    bos = [tok.bos_token_id] if family.adds_bos and own_ids[:1] != [tok.bos_token_id] else []
    expected = bos + own_ids + _ids(tok, A) + _ids(tok, family.turn_end)
    assert enc.input_ids == expected
    # the whole example decodes to the template's rendering of the answered conversation
    full = tok.apply_chat_template(
        [{"role": "user", "content": Q}, {"role": "assistant", "content": A}], tokenize=False
    )
    assert tok.decode(enc.input_ids[len(bos) :]) == full
    # labels: the answer and the turn end, nothing of the prompt
    n_prompt = len(bos) + len(own_ids)
    assert enc.labels[:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert tok.decode(enc.labels[n_prompt:]) == A + family.turn_end
    # BOS exactly once for a family with one, whether the template writes it or not
    if tok.bos_token_id is not None:
        assert enc.input_ids.count(tok.bos_token_id) == 1 and enc.input_ids[0] == tok.bos_token_id


def test_gpt2_without_template_is_qa_tags(tokenizers):
    tok = tokenizers["gpt2"]
    fmt = Formatter(tok, "auto", max_length=256)
    assert fmt.kind == "qa-tags" and fmt.stop_ids == []
    enc = fmt.encode_pair(Q, A)
    expected = [tok.bos_token_id, *_ids(tok, f"Question: {Q}\nAnswer:"), *_ids(tok, " " + A)]
    assert enc.input_ids == [*expected, tok.eos_token_id]
    with pytest.raises(ObliviateError, match="no chat template"):
        Formatter(tok, "chat")


def test_no_bos_where_the_tokenizer_config_says_so(tokenizers):
    """Phi-3's tokenizer config has ``add_bos_token: false``: its chat prompt starts with the
    template's first token, as the model's own ``apply_chat_template`` output does."""
    tok = build_tokenizer(FAMILIES["phi3"])
    tok.init_kwargs["add_bos_token"] = False
    ensure_pad(tok)
    own = tok.apply_chat_template([{"role": "user", "content": Q}], add_generation_prompt=True)
    assert Formatter(tok, "auto", 256).prompt_ids(Q) == list(own["input_ids"])


def test_tiny_tokens_unchanged_by_auto(tokenizer):
    """The tiny model's tokenizer has no chat template: ``auto`` is qa-tags, same ids as before
    (BOS + "Question: q\\nAnswer:" + " a" + EOS, SPEC 1.1 F1-F4)."""
    auto, tags = Formatter(tokenizer, "auto", 64), Formatter(tokenizer, "qa-tags", 64)
    q, a = "What is the e-mail address of Mara Kolb?", "mara.kolb@lumen.org"
    expected = [tokenizer.bos_token_id, *_ids(tokenizer, f"Question: {q}\nAnswer:"),
                *_ids(tokenizer, " " + a), tokenizer.eos_token_id]  # fmt: skip
    for fmt in (auto, tags):
        assert fmt.encode_pair(q, a).input_ids == expected
        assert fmt.prompt_ids(q) == expected[: len(_ids(tokenizer, f"Question: {q}\nAnswer:")) + 1]


def test_system_prompt_is_a_message(tokenizers):
    tok = tokenizers["qwen2"]
    fmt = Formatter(tok, "auto", 256, system_prompt="Answer briefly.")
    text = tok.decode(fmt.prompt_ids(Q))
    assert text.startswith("<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\n")
    assert "helpful assistant" not in text  # the template's default system prompt is replaced
    with pytest.raises(ObliviateError, match="System role not supported.*system_prompt"):
        Formatter(tokenizers["gemma2"], "auto", 256, system_prompt="Answer briefly.")


def test_truncation_keeps_the_turn_end(tokenizers):
    tok = tokenizers["phi3"]
    fmt = Formatter(tok, "chat", max_length=24)
    enc = fmt.encode_pair("Who?", A * 5)
    end = _ids(tok, "<|end|>\n<|endoftext|>")
    assert len(enc.input_ids) == 24 and enc.input_ids[-len(end) :] == end


@pytest.mark.parametrize("name", CHAT_FAMILIES)
def test_stop_list_is_generation_config_plus_turn_end(tokenizers, name):
    tok, family = tokenizers[name], FAMILIES[name]
    model = build_model(tok, family)
    ids = stop_token_ids(model, tok)
    for t in {*family.generation_eos, family.stop, tok.eos_token}:
        assert tok.convert_tokens_to_ids(t) in ids


@pytest.fixture()
def one_thread():
    """A nano model trains ~25x faster on one thread than on two contended ones."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _memorise(model, ids: list[int], steps: int = 120) -> None:
    """Fit ``ids`` (one sequence, every token labelled) so greedy decoding replays it."""
    torch.manual_seed(0)
    x = torch.tensor([ids])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


@pytest.mark.parametrize("name", CHAT_FAMILIES)
def test_generation_stops_at_the_turn_end(tokenizers, name, one_thread):
    """A model that continues past the turn end ("... and more text") is cut there."""
    tok, family = tokenizers[name], FAMILIES[name]
    model = build_model(tok, family)
    fmt = Formatter(tok, "auto", 256)
    after = _ids(tok, " and more text follows here.")
    _memorise(model, fmt.encode_pair(Q, A).input_ids + after)
    prompt = fmt.prompt_ids(Q)
    assert generate(model, tok, [prompt], max_new_tokens=40) == [A]
    # without the turn end as a stop the same model runs on past it
    model.generation_config.eos_token_id = None
    out = model.generate(
        torch.tensor([prompt]), max_new_tokens=40, do_sample=False, eos_token_id=[-1],
        pad_token_id=tok.pad_token_id,
    )  # fmt: skip
    assert "more text" in tok.decode(out[0, len(prompt) :])
