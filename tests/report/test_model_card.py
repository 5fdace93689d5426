"""Model cards name the hub model a run started from, never a local path."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from obliviate.config import load_config
from obliviate.model_card import card_text, front_matter, hub_id

METRICS = {"benchmark": "tofu", "models": {"unlearned": {"forget_quality": 0.25,
                                                          "model_utility": 0.5}}}  # fmt: skip


def _rd(model: str, method: str = "npo") -> SimpleNamespace:
    cfg = load_config(None, [f"model.name_or_path={model}", "benchmark.name=tofu",
                             f"unlearn.method={method}", "unlearn.params={beta: 0.2}"])  # fmt: skip
    return SimpleNamespace(cfg=cfg, dir=Path("/abs/runs/tofu_npo"),
                           data=SimpleNamespace(loaded=False))  # fmt: skip


def test_hub_base_model_in_the_front_matter(tmp_path: Path) -> None:
    assert hub_id("org/model-7b") == "org/model-7b"
    assert hub_id("tiny") is None and hub_id(str(tmp_path)) is None and hub_id("./x/y") is None
    card = card_text(_rd("org/model-7b"), "unlearned", adapter=True, metrics=METRICS)
    front = front_matter(card)
    assert front == {"base_model": "org/model-7b", "library_name": "peft",
                     "tags": ["unlearning", "npo", "obliviate", "tofu"]}  # fmt: skip
    assert "- parameters: `beta=0.2`" in card
    assert "| Forget Quality ↑ | 0.250 |" in card and "| Model Utility ↑ | 0.500 |" in card
    assert "Benchmark `tofu`, `eval.protocol=paper`" in card


def test_a_local_base_model_is_named_without_its_path(tmp_path: Path) -> None:
    local = tmp_path / "my-model"
    local.mkdir()
    (local / "config.json").write_text("{}")
    card = card_text(_rd(str(local)), "target", adapter=False)
    assert "base_model" not in front_matter(card) and str(tmp_path) not in card
    assert "`my-model` (a local model or preset)" in card
    assert front_matter(card)["tags"][:2] == ["unlearning", "sft"]
    assert "Not evaluated yet" in card
