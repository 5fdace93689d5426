"""Fixtures for method tests: a nano model fine-tuned once per session on the small QA world."""

from __future__ import annotations

import copy

import pytest
import torch
from unlearn_helpers import FORGET, RETAIN, small_data

from obliviate.config import TrainConfig
from obliviate.methods import get_method_class
from obliviate.models.tiny import build_tiny_model
from obliviate.recipe import unlearn


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread (and far faster on a shared, loaded machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def trained_state(tokenizer, formatter):
    """A nano model fine-tuned on forget + retain (fast: 8 examples, 40 steps, one thread)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    model = build_tiny_model(tokenizer, "nano", seed=0)
    cfg = TrainConfig(max_steps=40, lr=1e-2, batch_size=8, log_every=100)
    # the fine-tune stage's own setup: method sft through the recipe
    unlearn(get_method_class("sft")(), model, small_data(), formatter, cfg, section="finetune",
            forget=[*FORGET, *RETAIN])  # fmt: skip
    torch.set_num_threads(previous)
    return copy.deepcopy(model.state_dict())


@pytest.fixture()
def trained_model(tokenizer, trained_state):
    model = build_tiny_model(tokenizer, "nano", seed=0)
    model.load_state_dict(trained_state)
    return model.eval()
