from __future__ import annotations

import warnings

import pytest

from obliviate.errors import ObliviateError
from obliviate.formatting import IGNORE_INDEX, Formatter, collate_left, collate_right


def test_pad_bos_eos_are_distinct(tokenizer):
    ids = {tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id}
    assert len(ids) == 3


def test_prompt_unlabelled_answer_and_eos_labelled(formatter, tokenizer):
    enc = formatter.encode_pair("Where was Mara Kolb born?", "Oslo")
    prompt = formatter.prompt_ids("Where was Mara Kolb born?")
    answer = tokenizer(" Oslo", add_special_tokens=False)["input_ids"]
    assert enc.input_ids == prompt + answer + [tokenizer.eos_token_id]
    assert enc.labels[: len(prompt)] == [IGNORE_INDEX] * len(prompt)
    assert enc.labels[len(prompt) :] == answer + [tokenizer.eos_token_id]
    assert enc.n_labels == len(answer) + 1


def test_bos_exactly_once(formatter, tokenizer):
    enc = formatter.encode_pair("Q", "A")
    assert enc.input_ids[0] == tokenizer.bos_token_id
    assert enc.input_ids.count(tokenizer.bos_token_id) == 1
    # a prompt that already starts with BOS (as chat templates do) gets no second one
    assert formatter._with_bos([tokenizer.bos_token_id, 5]) == [tokenizer.bos_token_id, 5]


def test_eos_not_doubled(formatter, tokenizer):
    enc = formatter.encode_pair("Q", "A</s>")
    assert enc.input_ids[-1] == tokenizer.eos_token_id
    assert enc.input_ids[-2] != tokenizer.eos_token_id


def test_max_length_keeps_eos_and_bos(tokenizer):
    fmt = Formatter(tokenizer, "qa-tags", max_length=24)
    enc = fmt.encode_pair("Where", "Mara Kolb was born in Oslo on 12 March 1961. " * 3)
    assert len(enc.input_ids) == 24
    assert enc.input_ids[-1] == tokenizer.eos_token_id and enc.labels[-1] == tokenizer.eos_token_id
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        long = fmt.encode_pair("Mara Kolb was born in Oslo on 12 March 1961. " * 3, "Oslo")
    assert any("cut from the left" in str(w.message) for w in caught)
    assert len(long.input_ids) <= 24 and long.input_ids[0] == tokenizer.bos_token_id
    assert long.labels[-1] == tokenizer.eos_token_id


def test_raw_text_labels_everything_but_bos(formatter, tokenizer):
    enc = formatter.encode_text("Mara Kolb was born in Oslo.")
    assert enc.labels[0] == IGNORE_INDEX
    assert enc.labels[1:] == enc.input_ids[1:]


def test_collate_right_masks_from_lengths(formatter, tokenizer):
    a = formatter.encode_pair("Q", "Oslo")
    b = formatter.encode_pair("Where was Mara Kolb born?", "Oslo")
    batch = collate_right([a, b], tokenizer.pad_token_id)
    assert batch["attention_mask"][0].tolist() == [1] * len(a.input_ids) + [0] * (
        len(b.input_ids) - len(a.input_ids)
    )
    assert (batch["labels"][0, len(a.input_ids) :] == IGNORE_INDEX).all()
    # EOS is attended even though it is the last real token
    assert batch["attention_mask"][1, len(b.input_ids) - 1] == 1


def test_collate_left_pads_on_the_left(tokenizer):
    batch = collate_left([[1, 2, 3], [4]], tokenizer.pad_token_id)
    assert batch["input_ids"][1].tolist() == [tokenizer.pad_token_id] * 2 + [4]
    assert batch["attention_mask"][1].tolist() == [0, 0, 1]


def test_pad_equal_to_eos_is_rejected(tokenizer):
    import copy

    tok = copy.deepcopy(tokenizer)
    tok.pad_token = tok.eos_token
    with pytest.raises(ObliviateError, match="pad token equals EOS"):
        Formatter(tok)


def test_unknown_template(tokenizer):
    with pytest.raises(ObliviateError, match="accepted"):
        Formatter(tokenizer, "nope")
