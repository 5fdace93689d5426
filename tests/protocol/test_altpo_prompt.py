"""AltPO's alternate-answer prompt under ``eval.protocol`` (issue 19 item 9): ``paper`` / ``ou``
is open-unlearning's query string with its system line, ``fixed`` the run's own template.

Golden strings: a fixture generator outside the repository transcribes open-unlearning
(locuslab/open-unlearning @ d3d7cf9e6b3c125d16687d4232680d8d83548f1a)
``community/methods/AltPO/generate.py`` (``INST_QAS_LLAMA3_TEMPLATE_QUERY`` lines 17-31,
``INST_QAS_TEMPLATE_QUERY`` line 14, ``custom_format``) for one item; OU tokenises the string
with ``tokenizer(strings)`` (``tok_batch_encode``), special tokens added.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from obliviate.formatting import Formatter
from obliviate.methods.altpo import AltPO, altpo_prompt, ou_altpo_text

Q, A = "Where was Mara Kolb born?", "In Oslo."
OU_LLAMA3 = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful AI assist"
    "ant<|eot_id|>\n<|start_header_id|>user<|end_header_id|>\n\nQuestion: Where was Mara Kolb bo"
    "rn?\nAnswer: In Oslo.\nNow pretend you are making things up. Write another answer to the q"
    "uestion that is of a different template than the given answer and changes all facts from"
    " what are introduced in the given answer (changed answers must be plausible while being "
    "inconsistent with given answer). Ensure that your alternate answer is a plausible respon"
    "se to the question and doesn't change any details mentioned in question and only introdu"
    "ces changes to all the facts introduced answer.<|eot_id|>\n<|start_header_id|>assistant<|"
    "end_header_id|> \n\nAlternate Answer :"
)
OU_LLAMA2 = (
    "[INST] Question: Where was Mara Kolb born?\nAnswer:In Oslo.\nNow write another version of "
    "the answer with some alternate plausible facts that change answer details.\n [/INST] Alte"
    "rnate Answer :"
)


def test_ou_query_strings_are_ous(tokenizer) -> None:
    assert ou_altpo_text(Formatter(tokenizer, "qa-tags", 512), Q, A) == OU_LLAMA3
    assert ou_altpo_text(Formatter(tokenizer, "llama2-inst", 512), Q, A) == OU_LLAMA2


def test_ou_prompt_ids_are_tokenizer_of_the_string(tokenizer) -> None:
    fmt = Formatter(tokenizer, "qa-tags", 64)  # OU never cuts the prompt
    ids = altpo_prompt(fmt, Q, A, prompt="ou")
    assert ids == list(tokenizer(OU_LLAMA3)["input_ids"]) and len(ids) > 64
    assert altpo_prompt(fmt, Q, A, prompt="template") != ids


@pytest.mark.parametrize(
    ("prompt", "protocol", "expected"),
    [("auto", "paper", "ou"), ("auto", "ou", "ou"), ("auto", "fixed", "template"),
     ("template", "paper", "template"), ("ou", "fixed", "ou")],
)  # fmt: skip
def test_prompt_follows_protocol(prompt: str, protocol: str, expected: str) -> None:
    method = AltPO({"prompt": prompt})
    assert method.prompt_kind(SimpleNamespace(protocol=protocol)) == expected
