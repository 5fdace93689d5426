"""Fixtures for method tests: a nano model fine-tuned once per session on the small QA world."""

from __future__ import annotations

import copy

import pytest
import torch
from unlearn_helpers import FORGET, RETAIN

from obliviate.config import TrainConfig
from obliviate.models.tiny import build_tiny_model
from obliviate.training import train


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
    examples = [formatter.encode_record(r) for r in [*FORGET, *RETAIN]]

    def sft(m, batch):
        from obliviate.methods.base import forward_logits
        from obliviate.methods.losses import sequence_nll

        fb = batch["forget"]
        return sequence_nll(forward_logits(m, fb), fb["labels"]), {}

    cfg = TrainConfig(max_steps=40, lr=1e-2, batch_size=8, log_every=100)
    train(model, sft, examples, cfg, formatter.pad_id, seed=0)
    torch.set_num_threads(previous)
    return copy.deepcopy(model.state_dict())


@pytest.fixture()
def trained_model(tokenizer, trained_state):
    model = build_tiny_model(tokenizer, "nano", seed=0)
    model.load_state_dict(trained_state)
    return model.eval()
