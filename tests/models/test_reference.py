"""Reference strategies: with LoRA the reference is the model itself without (or with a frozen
snapshot of) the adapter, equal to the starting model's outputs, and never a second copy."""

from __future__ import annotations

import torch

from obliviate.config import TrainConfig
from obliviate.formatting import collate_right
from obliviate.models.batches import labelled_window
from obliviate.models.reference import AdapterReference, FrozenCopy, make_reference
from obliviate.models.scope import load_adapter_model, save_model, scope_model
from obliviate.models.tiny import build_tiny_model

PAIRS = [
    ("What is the e-mail address of Mara Kolb?", "mara.kolb@lumen.org"),
    ("Where does Jon Berg work?", "Jon Berg works at Lumen Works."),
]


def _batch(formatter) -> dict[str, torch.Tensor]:
    return collate_right([formatter.encode_pair(q, a) for q, a in PAIRS], formatter.pad_id)


def _logits(model, batch) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def _train_adapter(model, batch, steps: int = 3) -> None:
    """A few real optimizer steps on the adapter (dropout active: train mode)."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    model.train()
    for _ in range(steps):
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        out.logits.float().logsumexp(-1).mean().backward()
        opt.step()
        opt.zero_grad()


def _storages(*modules) -> set[int]:
    return {p.untyped_storage().data_ptr() for m in modules for p in m.parameters()}


def test_lora_reference_equals_base_model_outputs(tokenizer, formatter):
    model = build_tiny_model(tokenizer, "nano", seed=0).eval()
    batch = _batch(formatter)
    base = _logits(model, batch)
    scoped = scope_model(model, TrainConfig(scope="lora", lora_preset="knowundo"))
    ref = make_reference(scoped)
    assert isinstance(ref, AdapterReference) and ref.kind == "adapter_disabled"
    flags = {n: p.requires_grad for n, p in scoped.model.named_parameters()}
    _train_adapter(scoped.model, batch)
    assert not torch.allclose(_logits(scoped.model.eval(), batch), base, atol=1e-3)
    scoped.model.train()
    # bit-identical: the adapter path is skipped; logits from the earliest label on only
    keep = labelled_window(batch["labels"])
    assert keep < batch["labels"].shape[1]
    assert torch.equal(ref.logits(batch), base[:, -keep:])
    # the reference forward restores train mode and leaves every requires_grad flag alone
    assert scoped.model.training
    assert flags == {n: p.requires_grad for n, p in scoped.model.named_parameters()}


def test_lora_reference_holds_no_second_copy(tokenizer):
    model = build_tiny_model(tokenizer, "nano", seed=0)
    scoped = scope_model(model, TrainConfig(scope="lora"))
    ref = make_reference(scoped)
    assert not isinstance(ref, FrozenCopy)
    assert ref.model is scoped.model  # the same module: no parameter storage is duplicated
    full = build_tiny_model(tokenizer, "nano", seed=0)
    frozen = make_reference(scope_model(full, TrainConfig(scope="full")))
    assert isinstance(frozen, FrozenCopy)
    assert not _storages(frozen.model) & _storages(full)  # the full-scope strategy does copy


def test_continued_adapter_reference_is_the_initial_adapter(tokenizer, formatter, tmp_path):
    """KnowUnDo continues the fine-tune adapter: π_ref = base + initial adapter, not the base."""
    batch = _batch(formatter)
    base = build_tiny_model(tokenizer, "nano", seed=0).eval()
    base_logits = _logits(base, batch)
    save_model(base, tokenizer, tmp_path / "base")
    first = scope_model(base, TrainConfig(scope="lora"), base=str(tmp_path / "base"))
    _train_adapter(first.model, batch)
    save_model(first.model, tokenizer, tmp_path / "target", merge=False)
    model, _ = load_adapter_model(tmp_path / "target", keep=True)
    start = _logits(model.eval(), batch)
    assert not torch.allclose(start, base_logits, atol=1e-3)
    scoped = scope_model(model, TrainConfig(scope="lora"))
    ref = make_reference(scoped)
    assert ref.kind == "adapter_snapshot"
    trainable = {n for n, p in scoped.model.named_parameters() if p.requires_grad}
    assert trainable and all(".default." in n for n in trainable)  # the snapshot is frozen
    _train_adapter(scoped.model, batch)
    assert not torch.allclose(_logits(scoped.model.eval(), batch), start, atol=1e-3)
    keep = labelled_window(batch["labels"])
    torch.testing.assert_close(ref.logits(batch), start[:, -keep:], atol=1e-6, rtol=1e-6)
