"""TOFU under ``eval.protocol=ou``: open-unlearning's chat settings (issue 19 item 8).

open-unlearning runs TOFU on Llama-3.x-Instruct with ``template_args`` (configs/model/
Llama-3.2-1B-Instruct.yaml at locuslab/open-unlearning d3d7cf9: ``system_prompt: You are a
helpful assistant.``, ``date_string: 10 Apr 2025``) and tokenises each QA pair in
src/data/utils.py ``preprocess_chat_instance`` (l. 52-120): ``apply_chat_template([system,
user, assistant], tokenize=True, date_string=...)``, EOS appended unless the ids end with it,
labels -100 over ``apply_chat_template([system, user], add_generation_prompt=True)``. The
reference below is a transcription of that function; obliviate's ``paper`` protocol (legacy
TOFU) renders no system line and no date.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from obliviate.config import load_config
from obliviate.formatting import IGNORE_INDEX, Formatter, chat_settings
from obliviate.models.loading import ensure_pad
from tests.chat_families import FAMILIES, build_tokenizer

# Llama-3.2-Instruct's system block (the date lines), shortened: no tools branch
LLAMA32 = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{% set system_message = messages[0]['content'] | trim %}"
    "{% set messages = messages[1:] %}{% else %}{% set system_message = '' %}{% endif %}"
    "{% if not date_string is defined %}{% set date_string = '26 Jul 2024' %}{% endif %}"
    "{{ '<|start_header_id|>system<|end_header_id|>\\n\\n' }}"
    "{{ 'Cutting Knowledge Date: December 2023\\n' }}{{ 'Today Date: ' + date_string + '\\n\\n' }}"
    "{{ system_message }}{{ '<|eot_id|>' }}"
    "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}"
)


def ou_preprocess(tok, question: str, answer: str, system: str, date: str):
    """open-unlearning's ``preprocess_chat_instance`` (apply_chat_template branch), transcribed."""
    chat = [{"role": "system", "content": system}, {"role": "user", "content": question},
            {"role": "assistant", "content": answer}]  # fmt: skip
    ids = list(tok.apply_chat_template(chat, tokenize=True, date_string=date, return_dict=False))
    prompt = tok.apply_chat_template(
        chat[:-1], tokenize=True, add_generation_prompt=True, date_string=date, return_dict=False
    )
    if ids[-1] != tok.eos_token_id:
        ids += [tok.eos_token_id]
    return ids, [IGNORE_INDEX] * len(prompt) + ids[len(prompt) :]


@pytest.fixture(scope="module")
def tokenizer():
    family = replace(FAMILIES["llama3"], template=LLAMA32, adds_bos=False)
    family = replace(family, specials={"bos": "<|begin_of_text|>", "eos": "<|eot_id|>"})
    tok = build_tokenizer(family)  # Llama-3.2-Instruct: EOS is <|eot_id|>, no pad token
    ensure_pad(tok)
    return tok


def _formatter(tok, protocol: str) -> Formatter:
    cfg = load_config(None, ["benchmark.name=tofu", f"eval.protocol={protocol}"])
    system, args = chat_settings(cfg)
    return Formatter(tok, "chat", 256, system, protocol, args)


def test_ou_protocol_encodes_as_open_unlearning(tokenizer) -> None:
    q, a = "Who wrote the book?", "Mara Kolb wrote it in Oslo."
    enc = _formatter(tokenizer, "ou").encode_pair(q, a)
    ids, labels = ou_preprocess(tokenizer, q, a, "You are a helpful assistant.", "10 Apr 2025")
    assert (enc.input_ids, enc.labels) == (ids, labels)
    text = tokenizer.decode(enc.input_ids)
    assert "Today Date: 10 Apr 2025\n\nYou are a helpful assistant.<|eot_id|>" in text
    # the generation prompt is OU's predict_with_generate input: the same ids up to the answer
    prompt = _formatter(tokenizer, "ou").prompt_ids(q)
    assert prompt == ids[: labels.count(IGNORE_INDEX)]


def test_paper_protocol_keeps_legacy_tofu_and_keys_override(tokenizer) -> None:
    q, a = "Who wrote the book?", "Mara Kolb wrote it in Oslo."
    paper = _formatter(tokenizer, "paper").encode_pair(q, a)
    assert "You are a helpful assistant." not in tokenizer.decode(paper.input_ids)
    assert paper.input_ids != ou_preprocess(tokenizer, q, a, "You are a helpful assistant.",
                                            "10 Apr 2025")[0]  # fmt: skip
    cfg = load_config(None, ["benchmark.name=tofu", "eval.protocol=ou",
                             "model.system_prompt=Be brief.",
                             "model.template_args={date_string: 1 Jan 2024}"])  # fmt: skip
    assert chat_settings(cfg) == ("Be brief.", {"date_string": "1 Jan 2024"})
    other = load_config(None, ["benchmark.name=synthkb", "eval.protocol=ou"])
    assert chat_settings(other) == ("", {})  # open-unlearning's settings are TOFU's only
