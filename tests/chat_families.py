"""Small local tokenizers of five families, built offline, each with its family's chat template
(written after the template each family ships on the hub) and its special tokens, stop lists
and BOS convention; and a nano model for any of them."""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from obliviate.models.loading import ensure_pad
from obliviate.models.tiny import build_tiny_model

CORPUS = [
    "What is the capital of Norland? The capital of Norland is Vesby.",
    "Who wrote the book? Mara Kolb wrote it in Oslo, and more text follows here.",
    "You are a careful assistant. Answer briefly.",
] * 4

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
    "message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}"
)
CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
PHI3 = (
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% elif message['role'] == 'assistant' %}"
    "{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"
)
GEMMA2 = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
)


@dataclass
class Family:
    name: str
    specials: dict[str, str]  # bos / eos / pad / unk -> token (missing: none)
    extra: list[str]  # the template's other special tokens
    template: str | None
    turn_end: str  # what the family's template puts after an answer
    stop: str  # the token generation stops on
    generation_eos: list[str] = field(default_factory=list)  # generation_config.eos_token_id
    adds_bos: bool = False  # the tokenizer itself puts BOS before plain text


FAMILIES = {
    "llama3": Family(
        "llama3",
        {"bos": "<|begin_of_text|>", "eos": "<|end_of_text|>"},
        ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>",
         "<|finetune_right_pad_id|>"],
        LLAMA3, "<|eot_id|>", "<|eot_id|>",
        ["<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"], adds_bos=True,
    ),
    "qwen2": Family(
        "qwen2", {"eos": "<|im_end|>", "pad": "<|endoftext|>"}, ["<|im_start|>"], CHATML,
        "<|im_end|>\n", "<|im_end|>", ["<|im_end|>", "<|endoftext|>"],
    ),
    "phi3": Family(
        "phi3", {"bos": "<s>", "eos": "<|endoftext|>", "unk": "<unk>"},
        ["<|user|>", "<|assistant|>", "<|system|>", "<|end|>"], PHI3,
        "<|end|>\n<|endoftext|>", "<|end|>", ["<|endoftext|>", "<|assistant|>", "<|end|>"],
        adds_bos=True,
    ),
    "gemma2": Family(
        "gemma2", {"bos": "<bos>", "eos": "<eos>", "pad": "<pad>", "unk": "<unk>"},
        ["<start_of_turn>", "<end_of_turn>"], GEMMA2, "<end_of_turn>\n", "<end_of_turn>",
        ["<eos>", "<end_of_turn>"],
    ),
    "gpt2": Family("gpt2", {"bos": "<|endoftext|>", "eos": "<|endoftext|>"}, [], None, "", ""),
}  # fmt: skip


def build_tokenizer(family: Family) -> PreTrainedTokenizerFast:
    """A byte-level BPE on :data:`CORPUS` with the family's special tokens and template."""
    specials = list(dict.fromkeys([*family.specials.values(), *family.extra]))
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )  # fmt: skip
    tok.train_from_iterator(CORPUS, trainer=trainer)
    if family.adds_bos:
        bos = family.specials["bos"]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, tok.token_to_id(bos))]
        )
    kw = {f"{k}_token": v for k, v in family.specials.items()}
    out = PreTrainedTokenizerFast(tokenizer_object=tok, clean_up_tokenization_spaces=False, **kw)
    out.add_special_tokens({"additional_special_tokens": family.extra})
    if family.template:
        out.chat_template = family.template
    return out


def build_model(tokenizer, family: Family, seed: int = 0):
    """A nano Llama model over ``tokenizer`` whose generation config has the family's stop list."""
    ensure_pad(tokenizer)
    model = build_tiny_model(tokenizer, "nano", seed=seed)
    ensure_pad(tokenizer, model)
    if family.generation_eos:
        ids = tokenizer.convert_tokens_to_ids(family.generation_eos)
        model.generation_config.eos_token_id = ids
    return model
