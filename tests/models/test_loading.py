"""Model loading and saving: a save/load round trip keeps the logits, weights are safetensors
only, remote code stays off unless asked for, user mistakes are one-line errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from transformers import LlamaForCausalLM

from obliviate.errors import ObliviateError
from obliviate.models import loading
from obliviate.models.loading import ensure_pad, load_pretrained, save_pretrained, torch_dtype
from obliviate.models.tiny import build_tiny_model

IDS = torch.tensor([[0, 5, 9, 17, 33, 1], [0, 40, 41, 42, 43, 1]])


def _logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(input_ids=IDS).logits


@pytest.fixture()
def saved(tokenizer, tmp_path: Path):
    model = build_tiny_model(tokenizer, "nano", seed=0)
    save_pretrained(model, tokenizer, tmp_path / "model")
    return model, tmp_path / "model"


def test_round_trip_keeps_logits_and_tokenizer(saved, tokenizer) -> None:
    model, out = saved
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
        "tokenizer_config.json",
    ]  # fmt: skip
    assert not out.with_name("model.tmp").exists()  # the sibling was renamed, not left behind
    loaded, tok = load_pretrained(out)
    assert isinstance(loaded, LlamaForCausalLM) and loaded.dtype == torch.float32
    assert torch.equal(_logits(loaded), _logits(model))
    text = "Mara Kolb was born in Oslo."
    assert tok(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert (tok.pad_token_id, tok.eos_token_id, tok.bos_token_id) == (
        tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id
    )  # fmt: skip


def test_save_replaces_an_existing_directory_and_a_stale_temp(saved, tokenizer) -> None:
    _, out = saved
    (out / "stale.txt").write_text("from an older save")
    stale_tmp = out.with_name(".model.tmp-1-crashed")  # a crashed replace's leftover
    stale_tmp.mkdir()
    (stale_tmp / "half_written").write_text("x")
    other = build_tiny_model(tokenizer, "nano", seed=1)
    save_pretrained(other, tokenizer, out)
    assert not (out / "stale.txt").exists() and not stale_tmp.exists()
    assert torch.equal(_logits(load_pretrained(out)[0]), _logits(other))


def test_bfloat16_dtype_and_unknown_dtype(saved) -> None:
    _, out = saved
    assert load_pretrained(out, dtype="bfloat16")[0].dtype == torch.bfloat16
    assert torch_dtype("float16") == torch.float16
    with pytest.raises(ObliviateError) as err:
        torch_dtype("fp32")
    assert str(err.value) == "model.dtype='fp32' is unknown; accepted: float32, bfloat16, float16"


def test_pickle_weights_are_refused(saved) -> None:
    model, out = saved
    (out / "model.safetensors").unlink()
    torch.save(model.state_dict(), out / "pytorch_model.bin")  # a pickle: could run code
    with pytest.raises(ObliviateError, match=r"^could not load model '.*': .*model\.safetensors"):
        load_pretrained(out)


def test_remote_code_is_not_run_by_default(saved) -> None:
    _, out = saved
    cfg = json.loads((out / "config.json").read_text())
    cfg["auto_map"] = {
        "AutoConfig": "configuration_evil.C",
        "AutoModelForCausalLM": "modeling_evil.M",
    }
    (out / "config.json").write_text(json.dumps(cfg))
    for name in ("configuration_evil.py", "modeling_evil.py"):
        (out / name).write_text("raise RuntimeError('remote code ran')\n")
    model, _ = load_pretrained(out)  # the repository's own code is ignored: the built-in class
    assert type(model) is LlamaForCausalLM


def test_flags_reach_the_auto_classes(saved, monkeypatch) -> None:
    from transformers import AutoModelForCausalLM  # the class load_pretrained calls

    _, out = saved
    seen: list[dict] = []
    real = AutoModelForCausalLM.from_pretrained

    def spy(src, **kwargs):
        seen.append(kwargs)
        return real(src, **{**kwargs, "trust_remote_code": False})

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", spy)
    load_pretrained(out)
    load_pretrained(out, trust_remote_code=True)
    assert [(k["trust_remote_code"], k["use_safetensors"]) for k in seen] == [
        (False, True),
        (True, True),
    ]


@pytest.mark.parametrize("path", ["./absent", "/absent/model", "~/absent-obliviate-model"])
def test_missing_local_path_is_named(path: str) -> None:
    with pytest.raises(ObliviateError) as err:
        load_pretrained(path)
    assert str(err.value) == f"model path {path} does not exist"


def test_a_directory_that_is_not_a_model_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(ObliviateError) as err:
        load_pretrained(tmp_path)
    assert str(err.value).startswith(f"could not load model {str(tmp_path)!r}: the directory has")


def test_ensure_pad_prefers_a_spare_token_then_unk(tokenizer, nano_model) -> None:
    tok = copy.deepcopy(tokenizer)
    before = (tok.pad_token_id, len(tok))
    ensure_pad(tok)  # already distinct from EOS: nothing changes
    assert (tok.pad_token_id, len(tok)) == before
    tok.pad_token = tok.eos_token
    ensure_pad(tok, nano_model)  # "<pad>" is in the vocabulary: it is taken
    assert tok.pad_token == "<pad>" and len(tok) == before[1]
    assert nano_model.config.pad_token_id == nano_model.generation_config.pad_token_id == before[0]


def test_ensure_pad_falls_back_to_unk(tokenizer, monkeypatch) -> None:
    monkeypatch.setattr(loading, "PAD_CANDIDATES", ("<|no_such_token|>",))
    tok = copy.deepcopy(tokenizer)
    tok.pad_token = tok.eos_token
    ensure_pad(tok)
    assert tok.pad_token == "<unk>" and tok.pad_token_id == tok.unk_token_id != tok.eos_token_id


def test_ensure_pad_adds_a_token_and_grows_the_embeddings() -> None:
    """A tokenizer with only BOS and EOS (no pad candidate, no UNK): ``<pad>`` is added."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.train_from_iterator(["ab ba abba"] * 3, trainers.BpeTrainer(
        vocab_size=270, special_tokens=["<s>", "</s>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))  # fmt: skip
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>")
    vocab = len(tok)
    model = build_tiny_model(tok, "nano")
    assert tok.pad_token_id is None and tok.unk_token_id is None
    ensure_pad(tok, model)
    assert tok.pad_token == "<pad>" and tok.pad_token_id == vocab and len(tok) == vocab + 1
    assert model.get_input_embeddings().weight.shape[0] == vocab + 1
    assert model.config.pad_token_id == model.generation_config.pad_token_id == vocab
