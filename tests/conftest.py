"""Shared fixtures: a tiny tokenizer and model built offline in a second."""

from __future__ import annotations

import pytest

from obliviate.formatting import Formatter
from obliviate.models.tiny import build_tiny_model, train_tokenizer

TEXTS = [
    "Question: What is the e-mail address of Mara Kolb?\nAnswer: mara.kolb@lumen.org",
    "Mara Kolb was born in Oslo on 12 March 1961.",
    "Jon Berg works as a carpenter at Lumen Works.",
    "The capital of Norland is Vesby.",
] * 5


@pytest.fixture(scope="session")
def tokenizer():
    return train_tokenizer(TEXTS, vocab_size=300)


@pytest.fixture(scope="session")
def formatter(tokenizer):
    return Formatter(tokenizer, "qa-tags", max_length=64)


@pytest.fixture()
def nano_model(tokenizer):
    return build_tiny_model(tokenizer, "nano", seed=0)
