"""Scopes: frozen parameters stay bit-for-bit unchanged; LoRA presets, regions, saving, loading."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from obliviate.config import TrainConfig, load_config
from obliviate.errors import ObliviateError
from obliviate.methods.base import forward_logits
from obliviate.methods.losses import sequence_nll
from obliviate.models.scope import (
    LORA_PRESETS,
    adapter_dir,
    is_adapter_dir,
    load_adapter_model,
    lora_spec,
    named_parameters,
    read_region,
    save_model,
    scope_model,
)
from obliviate.models.tiny import build_tiny_model
from obliviate.training import train

PAIRS = [
    ("What is the e-mail address of Mara Kolb?", "mara.kolb@lumen.org"),
    ("Where was Mara Kolb born?", "Mara Kolb was born in Oslo."),
    ("Where does Jon Berg work?", "Jon Berg works at Lumen Works."),
    ("What is the capital of Norland?", "The capital of Norland is Vesby."),
]


def _section(scope: str, **kw) -> TrainConfig:
    return TrainConfig(scope=scope, max_steps=4, lr=1e-2, batch_size=2, weight_decay=0.1,
                       log_every=100, **kw)  # fmt: skip


def _ascent(model, batch):
    fb = batch["forget"]
    return -sequence_nll(forward_logits(model, fb), fb["labels"]), {}


def _unlearn(model, formatter, tcfg: TrainConfig) -> None:
    encoded = [formatter.encode_pair(q, a) for q, a in PAIRS]
    train(model, _ascent, encoded, tcfg, formatter.pad_id, seed=0)


def _snapshot(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in named_parameters(model)}


def _assert_frozen_unchanged(model, before: dict[str, torch.Tensor]) -> None:
    """Every frozen tensor is bit-identical; at least one trainable tensor moved."""
    moved = 0
    for name, p in named_parameters(model):
        if p.requires_grad:
            moved += not torch.equal(p.detach(), before[name])
        else:
            assert torch.equal(p.detach(), before[name]), name
    assert moved > 0


def test_lora_scope_leaves_base_weights_bit_identical(tokenizer, formatter):
    model = build_tiny_model(tokenizer, "nano", seed=0)
    base = _snapshot(model)
    tcfg = _section("lora", lora_preset="knowundo")
    scoped = scope_model(model, tcfg)
    assert scoped.adapter == "fresh"
    before = _snapshot(scoped.model)
    trainable = {n for n, p in named_parameters(scoped.model) if p.requires_grad}
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    # all-linear: 7 Llama projections x 2 layers x (A, B); lm_head (tied embedding) excluded
    assert len(trainable) == 7 * 2 * 2
    _unlearn(scoped.model, formatter, tcfg)
    _assert_frozen_unchanged(scoped.model, before)
    # every weight of the original model, now inside the peft wrapper, is unchanged
    checked = set()
    for name, p in named_parameters(scoped.model):
        key = name.replace(".base_layer", "")
        if key in base:
            assert torch.equal(p.detach(), base[key]), name
            checked.add(key)
    assert checked == set(base)


def test_layers_scope_leaves_other_layers_bit_identical(tokenizer, formatter):
    model = build_tiny_model(tokenizer, "nano", seed=0)
    tcfg = _section("layers", layers="1-2")
    scoped = scope_model(model, tcfg)
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names and all(n.startswith("model.layers.1.") for n in names)
    before = _snapshot(model)
    _unlearn(scoped.model, formatter, tcfg)
    _assert_frozen_unchanged(model, before)


def test_region_scope_leaves_other_tensors_bit_identical(tokenizer, formatter, tmp_path):
    model = build_tiny_model(tokenizer, "nano", seed=0)
    region = tmp_path / "region.json"
    region.write_text(json.dumps({"region": ["model.layers.0.mlp.down_proj.weight",
                                             r"model\.layers\.1\.self_attn\.[qv]_proj\.weight"]}))  # fmt: skip
    tcfg = _section("region", region_file=str(region))
    scope_model(model, tcfg)
    names = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert names == [
        "model.layers.0.mlp.down_proj.weight",
        "model.layers.1.self_attn.q_proj.weight",
        "model.layers.1.self_attn.v_proj.weight",
    ]
    before = _snapshot(model)
    _unlearn(model, formatter, tcfg)
    _assert_frozen_unchanged(model, before)


def test_presets_and_overrides():
    assert LORA_PRESETS["rwku"].targets == ("q_proj", "v_proj")
    assert (LORA_PRESETS["knowundo"].r, LORA_PRESETS["knowundo"].alpha) == (8, 16)
    assert LORA_PRESETS["knowundo"].dropout == 0.1
    assert (LORA_PRESETS["relearn"].r, LORA_PRESETS["relearn"].dropout) == (32, 0.05)
    spec = lora_spec(TrainConfig(lora_preset="rwku", lora_r=4, lora_targets=["o_proj"]))
    assert (spec.r, spec.alpha, spec.dropout, spec.targets) == (4, 16, 0.0, ("o_proj",))


def test_rwku_preset_targets_q_and_v_only(tokenizer):
    scoped = scope_model(build_tiny_model(tokenizer, "nano"), TrainConfig(scope="lora",
                                                                          lora_preset="rwku"))  # fmt: skip
    mods = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n, p in scoped.model.named_parameters()
            if p.requires_grad}  # fmt: skip
    assert mods == {"q_proj", "v_proj"}
    # r=8 on 64-wide q and v of 2 layers: A (8x64) + B (64x8) per module
    assert scoped.trainable == 2 * 2 * (8 * 64 + 64 * 8)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["unlearn.scope=lorra"], "unlearn.scope='lorra' is unknown"),
        (["unlearn.scope=lora", "unlearn.lora_preset=kud"], "unlearn.lora_preset='kud'"),
        (["unlearn.scope=layers", "unlearn.layers=4-2"], "unlearn.layers='4-2'"),
        (["unlearn.scope=region"], "unlearn.scope=region needs unlearn.region_file"),
        (["finetune.scope=lora", "finetune.lora_dropout=1.5"], "finetune.lora_dropout=1.5"),
    ],
)
def test_config_errors_name_the_key(overrides, message):
    with pytest.raises(ObliviateError, match=message.replace("(", r"\(")):
        load_config(None, overrides)


def test_bad_lora_target_and_stale_region_are_user_errors(tokenizer, tmp_path):
    with pytest.raises(ObliviateError, match="lora_targets.*q_proj"):
        scope_model(build_tiny_model(tokenizer, "nano"),
                    TrainConfig(scope="lora", lora_targets=["query"]))  # fmt: skip
    region = tmp_path / "region.txt"
    region.write_text(
        "# comment\nmodel.layers.0.mlp.up_proj.weight\nmodel.layers.7.mlp.up_proj.weight\n"
    )
    assert read_region(region) == ["model.layers.0.mlp.up_proj.weight",
                                   "model.layers.7.mlp.up_proj.weight"]  # fmt: skip
    with pytest.raises(ObliviateError, match="layers.7.*matches no parameter"):
        scope_model(build_tiny_model(tokenizer, "nano"),
                    TrainConfig(scope="region", region_file=str(region)))  # fmt: skip


def _logits(model, formatter) -> torch.Tensor:
    from obliviate.formatting import collate_right

    batch = collate_right([formatter.encode_pair(q, a) for q, a in PAIRS], formatter.pad_id)
    with torch.no_grad():
        return model.eval()(input_ids=batch["input_ids"],
                            attention_mask=batch["attention_mask"]).logits  # fmt: skip


def _perturb_adapter(model) -> None:
    with torch.no_grad():
        gen = torch.Generator().manual_seed(1)
        for name, p in model.named_parameters():
            if ".lora_B." in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)


@pytest.mark.parametrize("merge", [True, False])
def test_save_adapter_merged_and_reload(tokenizer, formatter, tmp_path, merge):
    base = build_tiny_model(tokenizer, "nano", seed=0)
    base_dir = tmp_path / "models" / "base"
    save_model(base, tokenizer, base_dir)
    base_logits = _logits(base, formatter)
    scoped = scope_model(base, TrainConfig(scope="lora", lora_preset="rwku"), base=str(base_dir))
    _perturb_adapter(scoped.model)
    expected = _logits(scoped.model, formatter)
    assert not torch.allclose(expected, base_logits)
    out = tmp_path / "models" / "unlearned"
    save_model(scoped.model, tokenizer, out, merge=merge)
    if merge:  # the merged model reloads with the Auto classes; the adapter sits beside it
        assert not is_adapter_dir(out) and is_adapter_dir(adapter_dir(out))
        reloaded = AutoModelForCausalLM.from_pretrained(out)
        torch.testing.assert_close(_logits(reloaded, formatter), expected, atol=1e-5, rtol=1e-5)
    else:
        assert is_adapter_dir(out) and not adapter_dir(out).exists()
    cfg = json.loads(
        (adapter_dir(out) if merge else out).joinpath("adapter_config.json").read_text()
    )
    assert cfg["base_model_name_or_path"] == str(base_dir.resolve())
    model, _ = load_adapter_model(adapter_dir(out) if merge else out)
    torch.testing.assert_close(_logits(model, formatter), expected, atol=1e-5, rtol=1e-5)


def test_continued_adapter_keeps_training_the_saved_adapter(tokenizer, tmp_path):
    base = build_tiny_model(tokenizer, "nano", seed=0)
    save_model(base, tokenizer, tmp_path / "base")
    scoped = scope_model(base, TrainConfig(scope="lora"), base=str(tmp_path / "base"))
    _perturb_adapter(scoped.model)
    save_model(scoped.model, tokenizer, tmp_path / "target", merge=False)
    model, _ = load_adapter_model(tmp_path / "target", keep=True)
    again = scope_model(model, TrainConfig(scope="lora"))
    assert again.adapter == "continued"
    saved = {n: p for n, p in named_parameters(scoped.model) if ".lora_B." in n}
    for name, p in named_parameters(again.model):
        assert p.requires_grad == (".lora_" in name)
        if name in saved:
            assert torch.equal(p.detach(), saved[name].detach())
