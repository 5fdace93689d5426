"""``obliviate bench throughput``: the FLOP count, the token counts, the peak, the profile's
breakdown and the report's fields (issue 18 item 1)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from obliviate.bench_profile import CATEGORIES, breakdown, category
from obliviate.bench_throughput import (
    TokenCounter,
    bench_throughput,
    flop_params,
    linear_shapes,
    matmul_peak,
    pass_flops,
)

NANO = dict(vocab_size=300, hidden_size=64, intermediate_size=192, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64)  # fmt: skip


def nano(tied: bool) -> LlamaForCausalLM:
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(tie_word_embeddings=tied, pad_token_id=0, **NANO))


@pytest.mark.parametrize("tied", [True, False])
def test_flop_count_is_the_hand_computation(tied):
    # per layer: q, k, v, o 4·64·64; gate, up, down 3·64·192; two RMSNorms 2·64;
    # then the final norm 64 and the LM head 300·64 (counted once, tied or not); no embedding
    per_layer = 4 * 64 * 64 + 3 * 64 * 192 + 2 * 64
    n = 2 * per_layer + 64 + 300 * 64
    model = nano(tied)
    assert n == 126016
    assert flop_params(model) == n
    assert sum(p.numel() for p in model.parameters()) == n + (0 if tied else 300 * 64)
    assert pass_flops(n, 1000, training=True) == 6 * 126016 * 1000
    assert pass_flops(n, 1000, training=False) == 2 * 126016 * 1000


def test_linear_shapes_are_the_models_matmuls():
    shapes = {(s["k"], s["n"]): s["count"] for s in linear_shapes(nano(True))}
    assert shapes == {(64, 64): 8, (64, 192): 4, (192, 64): 2, (64, 300): 1}


def test_token_counter_counts_real_and_padded_tokens():
    model = nano(True).eval()
    counter = TokenCounter(model, pad_id=0, training=False)
    ids = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])  # right padding: 8 real of 10
    left = torch.tensor([[0, 0, 4], [3, 4, 5]])  # left padding (generation): 4 real of 6
    with torch.no_grad():
        model(input_ids=ids, attention_mask=(ids != 0).long())
        model(input_ids=left, attention_mask=(left != 0).long())
        model.train()
        model(input_ids=ids, attention_mask=(ids != 0).long())  # training mode: not counted
    # a decode step (the hook's view): the finished row is fed the pad id, both attend to 6
    counter._hook(model.eval(), (), {"input_ids": torch.tensor([[0], [4]]),
                                     "attention_mask": torch.ones(2, 6, dtype=torch.long)})  # fmt: skip
    counter.close()
    assert (counter.real, counter.padded, counter.forwards) == (8 + 4 + 1, 10 + 6 + 2, 3)


def test_matmul_peak_is_a_weighted_rate_of_the_shapes():
    peak = matmul_peak([{"k": 32, "n": 64, "count": 3}, {"k": 64, "n": 128, "count": 1}], 16,
                       repeats=2, min_seconds=0.002)  # fmt: skip
    rates = [s["flops_per_s"] for s in peak["shapes"]]
    assert peak["shapes"][0]["flops"] == 6 * 16 * 32 * 64
    assert min(rates) <= peak["peak_flops_per_s"] <= max(rates) == peak["best_shape_flops_per_s"]


def _event(name: str, self_us: float, parent=None):
    return SimpleNamespace(name=name, self_cpu_time_total=self_us, cpu_parent=parent)


def test_profile_breakdown_sums_to_the_wall_time():
    step = _event("Optimizer.step#AdamW.step", 100)
    events = [
        _event("aten::mm", 4000), _event("aten::addmm", 1000),
        _event("aten::_scaled_dot_product_flash_attention_for_cpu", 500),
        _event("aten::_log_softmax", 300), _event("aten::mul", 200),
        _event("MmBackward0", 50), step, _event("aten::addcmul_", 400, step),
    ]  # fmt: skip
    out = breakdown(events, wall_s=0.01)
    s = out["seconds"]
    assert s["matmul"] == pytest.approx(0.005) and s["attention"] == pytest.approx(0.0005)
    assert s["loss"] == pytest.approx(0.0003) and s["optimizer"] == pytest.approx(0.0005)
    assert s["elementwise/norm/other"] == pytest.approx(0.0002)
    assert s["autograd/dispatch"] == pytest.approx(0.00005)
    assert s["python/framework"] == pytest.approx(0.01 - 0.00655)
    assert sum(out["shares"].values()) == pytest.approx(1.0)
    assert out["top_ops"][0]["name"] == "aten::mm"
    assert category("aten::softmax", False) == "attention"


def test_report_has_the_fields_and_real_tokens_never_exceed_padded(tmp_path):
    out = tmp_path / "tp.md"
    report = bench_throughput(
        None,
        ["model.tiny_preset=nano", "benchmark.people=6", "benchmark.holdout_people=2",
         "eval.batch_size=8", "eval.max_new_tokens=4", f"run.out_dir={tmp_path}"],
        steps=2, eval_batches=1, profile="always", out=str(out),
    )  # fmt: skip
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["passes"] == json.loads(json.dumps(report["passes"]))
    assert [r["pass"] for r in data["passes"]] == ["finetune", "npo", "gd", "score", "generate"]
    for key in ("machine", "threads", "model", "startup", "peak", "passes", "profile"):
        assert key in data
    for key in ("imports_s", "model_s", "data_s", "cli_list_methods_process_s"):
        assert data["startup"][key] >= 0
    n = data["model"]["flop_params"]
    for r in data["passes"]:
        assert 0 < r["real_tokens"] <= r["padded_tokens"], r
        assert r["real_tokens_per_s"] <= r["padded_tokens_per_s"]
        assert r["flops"] == (6 if r["training"] else 2) * n * r["real_tokens"]
        assert r["peak_ratio"] == pytest.approx(r["flops_per_s"] / data["peak"]["peak_flops_per_s"])
    finetune = data["passes"][0]
    assert finetune["steps"] == 2 and finetune["trainer_tokens"] == finetune["real_tokens"]
    profile = json.loads((tmp_path / "tp.profile.json").read_text())
    assert set(profile["shares"]) == set(CATEGORIES)
    assert sum(profile["shares"].values()) == pytest.approx(1.0)
    assert "| finetune | 2 |" in out.read_text()
