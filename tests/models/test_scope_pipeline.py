"""Scopes through the pipeline: a LoRA run makes no model copy for its reference and saves
adapter + merged model; `obliviate localize` writes the region and `memflex` trains only it."""

from __future__ import annotations

import json

import pytest
import torch
from small_world import SMALL_WORLD
from transformers import AutoModelForCausalLM

import obliviate.models.reference as reference
from obliviate.cli import main
from obliviate.config import load_config
from obliviate.models.loading import load_pretrained
from obliviate.models.scope import is_adapter_dir
from obliviate.pipeline import Run

SMALL = [
    *SMALL_WORLD,
    "finetune.lr=1e-2",
    "finetune.batch_size=8",
    "finetune.retain_model=false",
    "unlearn.epochs=1",
    "unlearn.lr=5e-3",
]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    run = Run(load_config(None, [*SMALL, f"run.out_dir={out}", "run.name=base"]))
    run.stage_finetune("target")
    return out


def _args(base_run, name: str, *extra: str) -> list[str]:
    return [*SMALL, f"run.out_dir={base_run}", f"run.name={name}",
            f"run.base_run={base_run / 'base'}", *extra]  # fmt: skip


def _run(base_run, name: str, *extra: str) -> Run:
    return Run(load_config(None, _args(base_run, name, *extra)))


class _NoCopy(reference.FrozenCopy):
    def __init__(self, model):
        raise AssertionError("a FrozenCopy was made")


@pytest.mark.slow
def test_lora_npo_kl_keeps_one_copy_and_saves_adapter(base_run, monkeypatch):
    monkeypatch.setattr(reference, "FrozenCopy", _NoCopy)
    with pytest.raises(AssertionError, match="FrozenCopy"):  # the patch bites a full-scope run
        _run(base_run, "full_kl", "unlearn.method=npo_kl").stage_unlearn()
    run = _run(base_run, "lora_kl", "unlearn.method=npo_kl", "unlearn.scope=lora",
               "unlearn.lora_preset=rwku")  # fmt: skip
    info = run.stage_unlearn()
    assert info["reference"] == "adapter_disabled"
    # rwku: r=8 on q_proj and v_proj (64 wide) of 2 layers: (8*64 + 64*8) * 2 * 2
    assert info["training"]["trainable_params"] == 4096
    out = run.model_dir("unlearned")
    assert is_adapter_dir(out.with_name("unlearned_lora")) and not is_adapter_dir(out)
    unlearned = AutoModelForCausalLM.from_pretrained(out)
    target, _ = load_pretrained(run.model_dir("target"))
    moved = {n for n, p in unlearned.named_parameters()
             if not torch.equal(p, dict(target.named_parameters())[n])}  # fmt: skip
    # merging changes exactly the LoRA-targeted weights, nothing else
    assert moved and all(n.endswith(("q_proj.weight", "v_proj.weight")) for n in moved)


@pytest.mark.slow
def test_localize_then_memflex_trains_only_the_region(base_run, capsys):
    params = ["unlearn.method=memflex", "unlearn.params={grad_thresh: 1.0e-6}"]
    assert main(["localize", *_args(base_run, "memflex", *params)]) == 0
    assert "trainable tensors selected" in capsys.readouterr().out
    run = _run(base_run, "memflex", *params)
    info = json.loads((run.dir / "localize" / "region.json").read_text())
    region = info["region"]
    assert region and info["grad_thresh"] == 1e-6 and info["sim_thresh"] == 0.92
    assert region == [n for n, s in info["tensors"].items()
                      if s["cos"] < 0.92 and s["grad_mean_abs"] > 1e-6]  # fmt: skip
    result = run.stage_unlearn()  # reuses the finished localisation
    target, _ = load_pretrained(run.model_dir("target"))
    unlearned, _ = load_pretrained(run.model_dir("unlearned"))
    sizes = dict((n, p.numel()) for n, p in target.named_parameters())
    assert result["training"]["trainable_params"] == sum(sizes[n] for n in region)
    after = dict(unlearned.named_parameters())
    for name, p in target.named_parameters():
        assert torch.equal(p, after[name]) == (name not in region), name
