"""Recorded environment, the request cache key and the collapse mark (issue 14 items 1, 6)."""

from __future__ import annotations

import torch

from obliviate.generation.backend import Backend
from obliviate.generation.cache import CachedBackend
from obliviate.generation.sampling import Sampling
from obliviate.pipeline import environment
from obliviate.report.tables import flag_notes, markdown_table


def test_environment_names_versions_device_threads_and_seed() -> None:
    env = environment(7)
    for key in ("torch", "transformers", "peft", "accelerate", "python", "device"):
        assert env[key], key
    assert env["torch"] in (torch.__version__, torch.__version__.split("+")[0])
    assert env["torch_threads"] == torch.get_num_threads() and env["seed"] == 7


class _Server(Backend):
    kind = "openai"

    def __init__(self, base_url: str):
        self.model, self.base_url = "m", base_url

    def _complete(self, conversations, sampling):
        return [["ok"] for _ in conversations]


def test_the_cache_key_holds_the_server(tmp_path) -> None:
    conv = [{"role": "user", "content": "hi"}]
    a = CachedBackend(_Server("http://a:8000/v1"), tmp_path).key(conv, Sampling())
    b = CachedBackend(_Server("http://b:8000/v1"), tmp_path).key(conv, Sampling())
    assert a != b


def test_a_collapsed_model_is_marked() -> None:
    dead = {"forget/empty_rate": 1.0, "forget/degenerate_rate": 0.0,
            "retain/empty_rate": 0.0, "retain/degenerate_rate": 1.0, "forget/rouge": 0.0}  # fmt: skip
    alive = {**dead, "retain/degenerate_rate": 0.5}
    notes = flag_notes([("unlearned", dead), ("target", alive)])
    assert any(n.startswith("‼ unlearned: COLLAPSED") for n in notes)
    assert not any("target: COLLAPSED" in n for n in notes)
    table = markdown_table([("unlearned", dead), ("target", alive)], ["forget/rouge"])
    assert "| unlearned ‼ collapsed |" in table and "| target |" in table
