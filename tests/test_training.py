"""The trainer: how many optimizer steps it takes, the LR each step sees, what it leaves alone."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from obliviate.config import TrainConfig
from obliviate.errors import ObliviateError
from obliviate.formatting import IGNORE_INDEX, Encoded
from obliviate.training import collate_examples, train

PAD = 0


class Toy(torch.nn.Module):
    """Embedding + linear head: a causal-LM-shaped model in a few hundred parameters."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(8, 4)
        self.head = torch.nn.Linear(4, 8)

    def forward(self, input_ids=None, attention_mask=None, **_):
        return SimpleNamespace(logits=self.head(self.emb(input_ids)))


def sq_loss(model, batch):
    fb = batch["forget"]
    return model(fb["input_ids"], fb["attention_mask"]).logits.pow(2).mean(), {}


# 10 examples of 3 tokens: batch 4 -> 3 micro-batches per epoch (4, 4, 2)
EXAMPLES = [Encoded([1 + i % 5, 2, 3], [IGNORE_INDEX, 2, 3]) for i in range(10)]


def _train(examples=EXAMPLES, **kw):
    cfg = TrainConfig(**{"batch_size": 4, "log_every": 1, "lr": 1e-2, **kw})
    return train(Toy(), sq_loss, examples, cfg, PAD, seed=0)


@pytest.mark.parametrize(
    ("kw", "steps"),
    [
        ({"epochs": 2}, 6),  # 3 micro-batches per epoch
        ({"epochs": 0.5}, 2),  # ceil(0.5 * 3)
        ({"epochs": 2, "grad_accum": 2}, 4),  # ceil(3 / 2) = 2 per epoch: the last batch syncs
        ({"epochs": 1, "grad_accum": 3}, 1),
        ({"epochs": 9, "max_steps": 5}, 5),  # max_steps overrides epochs (runs past an epoch)
    ],
)
def test_step_counts(kw, steps):
    result = _train(**kw)
    assert result.steps == steps
    assert [e["step"] for e in result.log] == list(range(1, steps + 1))


def test_tokens_count_every_attended_position():
    result = _train(epochs=2)
    assert result.tokens == 2 * 10 * 3
    retain = [Encoded([4, 5], [IGNORE_INDEX, 5])] * 3
    cfg = TrainConfig(epochs=1, batch_size=4, log_every=1)
    with_retain = train(Toy(), sq_loss, EXAMPLES, cfg, PAD, seed=0, retain=retain)
    # three forget batches (10 items), each with a retain batch of 4 items of 2 tokens
    assert with_retain.tokens == 10 * 3 + 3 * 4 * 2


def test_log_every_averages_the_loss_since_the_last_entry():
    every = _train(epochs=2)
    pairs = _train(epochs=2, log_every=2)
    assert [e["step"] for e in pairs.log] == [2, 4, 6]
    for entry, (a, b) in zip(pairs.log, zip(every.log[::2], every.log[1::2]), strict=True):
        assert entry["loss"] == pytest.approx((a["loss"] + b["loss"]) / 2)


def _lrs(scheduler: str, warmup: float = 0.25, steps: int = 8) -> list[float]:
    result = _train(max_steps=steps, lr=1.0, scheduler=scheduler, warmup_ratio=warmup)
    return [e["lr"] for e in result.log]


def test_scheduler_lr_values():
    # 8 steps, warmup int(0.25 * 8) = 2; the log holds the LR after each step's scheduler step
    assert _lrs("constant", warmup=0.0) == [1.0] * 8
    assert _lrs("linear") == pytest.approx([0.5, 1.0, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6, 0.0])
    cosine = [0.5, 1.0] + [0.5 * (1 + math.cos(math.pi * k / 6)) for k in range(1, 7)]
    assert _lrs("cosine") == pytest.approx(cosine)


def test_frozen_parameters_stay_frozen_and_unchanged():
    model = Toy()
    model.emb.requires_grad_(False)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    cfg = TrainConfig(epochs=2, batch_size=4, lr=1e-1, weight_decay=0.1)
    result = train(model, sq_loss, EXAMPLES, cfg, PAD, seed=0)
    assert result.trainable_params == 4 * 8 + 8  # the head only
    assert not model.emb.weight.requires_grad
    assert torch.equal(model.emb.weight, before["emb.weight"])
    assert not torch.equal(model.head.weight, before["head.weight"])
    assert not model.training  # left in eval mode


def test_same_seed_same_weights_and_no_trainable_parameters_is_an_error():
    a, b = Toy(), Toy()
    cfg = TrainConfig(epochs=1, batch_size=4, lr=1e-1)
    train(a, sq_loss, EXAMPLES, cfg, PAD, seed=3)
    train(b, sq_loss, EXAMPLES, cfg, PAD, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    with pytest.raises(RuntimeError, match="no trainable parameters"):
        train(Toy().requires_grad_(False), sq_loss, EXAMPLES, cfg, PAD, seed=0)
    with pytest.raises(ObliviateError, match="finetune: no training examples"):
        train(Toy(), sq_loss, [], cfg, PAD, seed=0, desc="finetune")


def test_dict_examples_collate_key_by_key():
    pair = {"chosen": Encoded([1, 2], [IGNORE_INDEX, 2]), "rejected": Encoded([3], [3])}
    batch = collate_examples([pair, pair], PAD)
    assert batch["chosen"]["input_ids"].tolist() == [[1, 2], [1, 2]]
    assert batch["rejected"]["labels"].tolist() == [[3], [3]]


# ---- precision and memory switches on a transformers model ----------------------------------
def _hf_examples(tokenizer, formatter):
    from obliviate.records import QAItem

    qa = [QAItem(f"What is item {i} of Mara Kolb?", f"Item {i} is Oslo.") for i in range(8)]
    return [formatter.encode_record(r) for r in qa]


def _moved(before: dict, model) -> torch.Tensor:
    """Which decoder-layer weight elements changed (compared in fp32), flattened."""
    masks = [(p.detach().float() != before[name].float()).flatten()
             for name, p in model.named_parameters()
             if ".layers." in name and name.endswith("proj.weight")]  # fmt: skip
    return torch.cat(masks)


def test_bf16_mixed_precision_keeps_fp32_masters_so_small_updates_land(tokenizer, formatter):
    from obliviate.models.tiny import build_tiny_model

    examples = _hf_examples(tokenizer, formatter)

    def run(dtype: torch.dtype, mixed: str) -> tuple[torch.Tensor, torch.dtype]:
        model = build_tiny_model(tokenizer, "nano", seed=0).to(dtype)
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        cfg = TrainConfig(max_steps=10, lr=1e-5, batch_size=4, mixed_precision=mixed)
        train(model, _nll, examples, cfg, formatter.pad_id, seed=0)
        return _moved(before, model), next(model.parameters()).dtype

    updated, _ = run(torch.float32, "no")  # the elements these 10 steps update at all
    pure, pure_dtype = run(torch.bfloat16, "no")  # bf16 weights, bf16 AdamW: updates round away
    mixed, mixed_dtype = run(torch.bfloat16, "bf16")  # fp32 masters under bf16 autocast
    assert pure_dtype == torch.bfloat16 and mixed_dtype == torch.float32
    share = lambda moved: float(moved[updated].float().mean())  # noqa: E731
    print(
        f"updated elements moved at lr 1e-5 after 10 steps: pure bf16 {share(pure):.3f}, "
        f"bf16 mixed {share(mixed):.3f} ({int(updated.sum())} of {updated.numel()} updated)"
    )
    assert float(updated.float().mean()) > 0.99
    # with fp32 masters all but a handful move (an element whose gradient under bf16 autocast
    # is exactly 0 keeps its value: 1 of 106,496 here); without them most updates round away
    assert int((~mixed[updated]).sum()) <= 5
    assert share(pure) < 0.5


def _nll(model, batch):
    from obliviate.methods.base import forward_logits
    from obliviate.methods.losses import sequence_nll

    fb = batch["forget"]
    return sequence_nll(forward_logits(model, fb), fb["labels"]), {}


def test_gradient_checkpointing_gives_the_same_losses(tokenizer, formatter):
    from obliviate.models.tiny import build_tiny_model

    examples = _hf_examples(tokenizer, formatter)
    logs = []
    for ckpt in (False, True):
        model = build_tiny_model(tokenizer, "nano", seed=0)
        cfg = TrainConfig(max_steps=4, lr=1e-2, batch_size=4, log_every=1,
                          gradient_checkpointing=ckpt)  # fmt: skip
        logs.append([e["loss"] for e in train(model, _nll, examples, cfg, 0, seed=0).log])
        assert not model.is_activation_checkpointing  # switched off again after training
    assert logs[0] == pytest.approx(logs[1], abs=1e-5)


def test_precision_and_checkpointing_keys_are_checked():
    from obliviate.config import load_config

    with pytest.raises(
        ObliviateError,
        match=r"unlearn.mixed_precision='fp8' is unknown; accepted: auto, no, bf16, fp16",
    ):
        load_config(None, ["unlearn.mixed_precision=fp8"])
    with pytest.raises(ObliviateError, match="not a transformers model"):
        train(Toy(), sq_loss, EXAMPLES, TrainConfig(gradient_checkpointing=True), PAD, seed=0)


def test_weight_decay_spares_biases_and_norms_as_hf_trainer_does(tokenizer):
    """Peers built on HF Trainer (open-unlearning, TOFU, ...) decay every weight but biases and
    norm weights (``Trainer.get_decay_parameter_names``, transformers ``trainer.py``). A step with
    zero gradient leaves only AdamW's decay: p <- p·(1 − lr·wd) on decayed tensors, the rest
    bit-identical."""
    from transformers import Trainer

    from obliviate.models.tiny import build_tiny_model
    from obliviate.training import decay_groups

    model = build_tiny_model(tokenizer, "nano", seed=0)
    hf_decayed = set(Trainer.get_decay_parameter_names(None, model))  # uses no Trainer state
    hf_decayed &= {n for n, _ in model.named_parameters()}  # tied lm_head: one tensor, one name
    names = {id(p): n for n, p in model.named_parameters()}
    groups = decay_groups(model, 0.5)
    ours = {names[id(p)] for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    assert ours == hf_decayed and any("norm" in n for n, _ in model.named_parameters())
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW(groups, lr=0.1)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for n, p in model.named_parameters():
        expected = before[n] * (1 - 0.1 * 0.5) if n in hf_decayed else before[n]
        assert torch.allclose(p.detach(), expected, rtol=0, atol=1e-7), n
        if n not in hf_decayed:
            assert torch.equal(p.detach(), before[n]), n  # norms untouched, exactly
