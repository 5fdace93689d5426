"""Layer scopes and LoRA on the module names of five architectures: Llama / Qwen2 / Phi-3 /
Gemma-2 (``model.layers.N``) and GPT-2 (``transformer.h.N``), built from tiny configs."""

from __future__ import annotations

import re

import pytest
from transformers import (
    AutoModelForCausalLM,
    Gemma2Config,
    GPT2Config,
    LlamaConfig,
    Phi3Config,
    Qwen2Config,
)

from obliviate.models.scope import LAYER_NAME, LoraSpec, apply_scope, attach_lora

DIMS = dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2,
            num_hidden_layers=3, vocab_size=64)  # fmt: skip
CONFIGS = {
    "llama": lambda: LlamaConfig(**DIMS),
    "qwen2": lambda: Qwen2Config(**DIMS),
    "phi3": lambda: Phi3Config(**DIMS, pad_token_id=0),
    "gemma2": lambda: Gemma2Config(**DIMS, head_dim=8),
    "gpt2": lambda: GPT2Config(n_embd=32, n_layer=3, n_head=4, vocab_size=64, n_positions=64),
}
BLOCK = {"gpt2": "transformer.h.1."}


@pytest.mark.parametrize("arch", list(CONFIGS))
def test_layers_scope_trains_exactly_the_named_blocks(arch):
    model = AutoModelForCausalLM.from_config(CONFIGS[arch]())
    n = apply_scope(model, "layers", "1-2")
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    prefix = BLOCK.get(arch, "model.layers.1.")
    assert n > 0 and trainable and all(name.startswith(prefix) for name in trainable)
    block = sum(p.numel() for name, p in model.named_parameters() if name.startswith(prefix))
    assert n == block  # the whole block, nothing else (embeddings, norm, head frozen)


def test_layer_name_pattern():
    hits = {name: LAYER_NAME.search(name) for name in [
        "model.layers.3.mlp.up_proj.weight", "transformer.h.11.attn.c_attn.weight",
        "transformer.blocks.0.ffn.weight", "base_model.model.model.layers.2.self_attn.q_proj.lora_A.default.weight",
        "model.embed_tokens.weight", "transformer.wte.weight", "lm_head.weight", "model.norm.weight",
        "transformer.ln_f.weight", "model.mesh.2.weight",
    ]}  # fmt: skip
    got = {k: int(m.group(1)) for k, m in hits.items() if m}
    assert list(got.values()) == [3, 11, 0, 2]
    assert not any(re.search(r"embed|wte|lm_head|norm|ln_f|mesh", k) for k in got)


@pytest.mark.parametrize("arch", list(CONFIGS))
def test_all_linear_lora_attaches(arch):
    model = AutoModelForCausalLM.from_config(CONFIGS[arch]())
    lora = attach_lora(model, LoraSpec(r=4, alpha=8, dropout=0.0, targets=("all-linear",)))
    names = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert names and all(".lora_" in n for n in names)
    assert not any("lm_head" in n for n in names)
