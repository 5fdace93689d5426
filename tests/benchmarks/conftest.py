"""Fixtures: the small local benchmark copies of ``hub_copies`` in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hub_copies import build_knowundo, build_rwku, build_tofu


@pytest.fixture()
def tofu_dir(tmp_path: Path) -> Path:
    return build_tofu(tmp_path / "tofu")


@pytest.fixture()
def knowundo_dir(tmp_path: Path) -> Path:
    return build_knowundo(tmp_path / "knowundo")


@pytest.fixture()
def rwku_dir(tmp_path: Path) -> Path:
    return build_rwku(tmp_path / "rwku")


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The nano model's matrices are tiny: one intra-op thread is as fast on an idle machine and
    avoids the spin-wait slowdown (measured ~20x) when other jobs share the two cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
