"""generate/store.py: paths and hashes of generated data, the backend a config makes, reading
and generating rows with explicit inputs (config, benchmark data, run directory, models)."""

from __future__ import annotations

import hashlib
import json

import pytest

from obliviate.benchmarks import load_benchmark
from obliviate.config import load_config
from obliviate.errors import ObliviateError
from obliviate.generate.store import (
    ensure_generated,
    forget_items,
    generated_fingerprint,
    generated_path,
    generated_rows,
    make_backend,
    sampling_for,
)
from obliviate.generation.cache import CachedBackend
from obliviate.generation.hf import HFBackend
from obliviate.generation.http import OpenAIBackend
from obliviate.generation.sampling import Sampling
from obliviate.records import BenchmarkData, QAItem


def _cfg(tmp_path, *extra: str):
    return load_config(None, [f"run.out_dir={tmp_path}", "benchmark.people=8", *extra])


class Models:
    """A ModelSource over one given model: records which roles were asked for."""

    device = "cpu"

    def __init__(self, model, tok):
        self.model, self.tok, self.asked = model, tok, []

    def ref(self, role):
        self.asked.append(role)
        return f"/runs/x/models/{role}", f"fp-{role}"

    def load(self, role):
        return self.model, self.tok


def test_paths_and_the_file_hash(tmp_path):
    assert generated_path(tmp_path, "meow") == tmp_path / "generated" / "meow.jsonl"
    with pytest.raises(ObliviateError, match="kind 'nope' is unknown; accepted: relearn, meow"):
        generated_path(tmp_path, "nope")
    assert generated_fingerprint(tmp_path, "") == []
    assert generated_fingerprint(tmp_path, "relearn") == []  # no file yet
    path = generated_path(tmp_path, "relearn")
    path.parent.mkdir()
    path.write_bytes(b'{"id": "x"}\n')
    assert generated_fingerprint(tmp_path, "relearn") == [
        hashlib.sha256(b'{"id": "x"}\n').hexdigest()[:16]
    ]


def test_generated_rows_names_the_command():
    data = BenchmarkData("t", [], [], [], [], {}, extras={"generated": {"meow": [{"id": 1}]}})
    assert generated_rows(data, "meow", "meow") == [{"id": 1}]
    with pytest.raises(ObliviateError, match="`obliviate augment CONFIG` writes it"):
        generated_rows(data, "relearn", "relearn")


def test_sampling_overrides_only_what_is_set(tmp_path):
    default = Sampling(temperature=1.0, top_p=0.9, max_tokens=512)
    got = sampling_for(_cfg(tmp_path, "generate.temperature=0.3", "generate.seed=7"), default)
    assert (got.temperature, got.top_p, got.max_tokens, got.seed) == (0.3, 0.9, 512, 7)


def test_forget_items_ids_fall_back_to_positions():
    items = [QAItem("q1", "a1", id="x"), QAItem("q2", "a2", id="x")]
    data = BenchmarkData("t", [], [], items, [], {})
    assert forget_items(data, "t")[1] == ["item00000", "item00001"]
    items[1].id = "y"
    assert forget_items(data, "t")[1] == ["x", "y"]
    with pytest.raises(ObliviateError, match="benchmark 't': data generation needs"):
        forget_items(BenchmarkData("t", [], [], [], [], {}), "t")


def test_make_backend_per_config(tmp_path, nano_model, tokenizer):
    assert make_backend(_cfg(tmp_path), None) is None  # offline
    api = ["generate.backend=openai", "generate.base_url=http://127.0.0.1:9/v1",
           "generate.model=m"]  # fmt: skip
    cached = make_backend(_cfg(tmp_path, *api), None)
    assert isinstance(cached, CachedBackend) and isinstance(cached.inner, OpenAIBackend)
    assert cached.dir == tmp_path / ".generate_cache" and cached.model == "m"
    assert isinstance(make_backend(_cfg(tmp_path, *api, "generate.cache_dir=none"), None),
                      OpenAIBackend)  # fmt: skip
    models = Models(nano_model, tokenizer)
    hf = make_backend(_cfg(tmp_path, "generate.backend=hf", "generate.model=retain",
                           "generate.cache_dir=none"), models)  # fmt: skip
    assert isinstance(hf, HFBackend) and hf.model == "run:retain:fp-retain"
    assert hf.lm is nano_model and models.asked == ["retain"]
    with pytest.raises(ObliviateError, match="needs the run's models"):
        make_backend(_cfg(tmp_path, "generate.backend=hf"), None)


def test_offline_generation_then_read_back(tmp_path):
    cfg = _cfg(tmp_path)
    data = load_benchmark(cfg.benchmark)
    rows = ensure_generated("relearn", cfg, data, tmp_path / "run")
    path = generated_path(tmp_path / "run", "relearn")
    assert data.extras["generated"]["relearn"] is rows
    assert sorted(r["id"] for r in rows) == sorted(r.id for r in data.forget)
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["backend"] == "offline" and manifest["model"] == "synthkb-templates"
    assert manifest["rows"] == len(rows) == len(path.read_text().splitlines())
    again = load_benchmark(cfg.benchmark)
    assert ensure_generated("relearn", cfg, again, tmp_path / "run") == rows  # read, not made
    other = load_benchmark(_cfg(tmp_path, "benchmark.forget_fraction=0.3").benchmark)
    with pytest.raises(ObliviateError, match="generated for other forget items"):
        ensure_generated("relearn", cfg, other, tmp_path / "run")


def test_offline_generation_is_synthkb_only(tmp_path):
    cfg = _cfg(tmp_path, "benchmark.name=tofu")
    data = BenchmarkData("tofu", [], [], [QAItem("q", "a", id="x")], [], {})
    with pytest.raises(
        ObliviateError, match="generate.backend=offline works for benchmark synthkb"
    ):
        ensure_generated("relearn", cfg, data, tmp_path / "run")
