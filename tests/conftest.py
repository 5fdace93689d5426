"""Shared fixtures: a tiny tokenizer and model built offline in a second."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars drown test output
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach the hub

from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.disable_progress_bar()

from obliviate.formatting import Formatter  # noqa: E402
from obliviate.models.tiny import build_tiny_model, train_tokenizer  # noqa: E402

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
