"""The offline ``tiny`` model: a deterministic BPE tokenizer with distinct special tokens and a
seeded Llama whose size follows its preset."""

from __future__ import annotations

import pytest
import torch

from obliviate.models.tiny import TINY_PRESETS, build_tiny_model, train_tokenizer

TEXTS = ["Mara Kolb was born in Oslo.", "Jon Berg works as a carpenter."] * 3


def test_tokenizer_special_tokens_come_first_and_are_distinct() -> None:
    tok = train_tokenizer(TEXTS, vocab_size=300)
    assert tok.convert_ids_to_tokens([0, 1, 2, 3]) == ["<s>", "</s>", "<pad>", "<unk>"]
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    # 4 special tokens + 256 byte-level symbols + the merges, up to vocab_size: these two
    # sentences allow 38 merges, so a larger budget stops at 298
    assert len(train_tokenizer(TEXTS, vocab_size=270)) == 270
    assert len(tok) == len(train_tokenizer(TEXTS, vocab_size=2048)) == 4 + 256 + 38
    assert tok.tokenize("Mara Kolb") == ["Mara", "ĠKolb"]  # whole words of the training text
    text = "Mara Kolb was born in Oslo; Zürich is new text."
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text  # byte-level
    assert tok.model_max_length == 4096


def test_tokenizer_is_deterministic_for_a_text_order() -> None:
    a, b = train_tokenizer(TEXTS, 300), train_tokenizer(list(TEXTS), 300)
    assert a.get_vocab() == b.get_vocab()


def _n_params(vocab: int, hidden_size: int, intermediate_size: int, num_hidden_layers: int,
              **_: int) -> int:  # fmt: skip
    """Tied embedding V*h; per layer q, k, v, o (4 h^2), gate, up, down (3 h i), two RMSNorms
    (2 h); the final norm h."""
    h, i = hidden_size, intermediate_size
    return vocab * h + num_hidden_layers * (4 * h * h + 3 * h * i + 2 * h) + h


@pytest.mark.parametrize("preset", ["nano", "tiny"])
def test_preset_dimensions_and_parameter_count(tokenizer, preset: str) -> None:
    model = build_tiny_model(tokenizer, preset)
    dims = TINY_PRESETS[preset]
    cfg = model.config
    assert (cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers,
            cfg.num_attention_heads) == tuple(dims.values())  # fmt: skip
    assert cfg.vocab_size == len(tokenizer)
    assert model.lm_head.weight is model.model.embed_tokens.weight  # tied
    assert sum(p.numel() for p in model.parameters()) == _n_params(len(tokenizer), **dims)
    assert (cfg.bos_token_id, cfg.eos_token_id, cfg.pad_token_id) == (0, 1, 2)
    assert model.generation_config.pad_token_id == 2


def test_nano_parameter_count_by_hand(tokenizer) -> None:
    # V = len(tokenizer); 64 * V + 2 * (4 * 64^2 + 3 * 64 * 192 + 2 * 64) + 64
    expected = 64 * len(tokenizer) + 2 * (16384 + 36864 + 128) + 64
    assert sum(p.numel() for p in build_tiny_model(tokenizer, "nano").parameters()) == expected


def test_seed_fixes_the_weights(tokenizer) -> None:
    a, b = build_tiny_model(tokenizer, "nano", seed=3), build_tiny_model(tokenizer, "nano", seed=3)
    c = build_tiny_model(tokenizer, "nano", seed=4)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.model.embed_tokens.weight, c.model.embed_tokens.weight)
