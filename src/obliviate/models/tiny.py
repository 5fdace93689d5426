"""The ``tiny`` model: a small Llama-architecture model and a BPE tokenizer trained on the
benchmark's own text, so that the whole pipeline runs offline on a laptop CPU."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where a tokenizer or a model is built (the presets are read alone)
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

SPECIAL_TOKENS = {"bos": "<s>", "eos": "</s>", "pad": "<pad>", "unk": "<unk>"}

# name -> Llama dimensions; "tiny" is the quickstart default (about 2M parameters + embeddings).
TINY_PRESETS: dict[str, dict[str, int]] = {
    "nano": dict(hidden_size=64, intermediate_size=192, num_hidden_layers=2, num_attention_heads=4),
    "tiny": dict(
        hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=6
    ),
    "small": dict(
        hidden_size=384, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=6
    ),
}


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on ``texts`` with distinct BOS, EOS, PAD and UNK tokens.

    Deterministic for a given text order (the BPE trainer breaks ties by token order).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk"]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=SPECIAL_TOKENS["bos"],
        eos_token=SPECIAL_TOKENS["eos"],
        pad_token=SPECIAL_TOKENS["pad"],
        unk_token=SPECIAL_TOKENS["unk"],
        model_max_length=4096,
        clean_up_tokenization_spaces=False,
    )


def build_tiny_model(tokenizer, preset: str = "tiny", seed: int = 0) -> LlamaForCausalLM:
    """A randomly initialised Llama model sized by ``preset``, seeded for reproducibility."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    dims = TINY_PRESETS[preset]
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        **dims,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model
