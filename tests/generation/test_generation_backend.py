"""The one generation backend on the nano model: greedy output token-for-token equal to a direct
``model.generate`` call, sampling settings mapped onto HF's arguments, AltPO's decoding reproduced,
the OpenAI-compatible backend's token-id refusal and the vLLM error without the package."""

from __future__ import annotations

import pytest
import torch

from obliviate.errors import ObliviateError
from obliviate.eval.generation import HFGenerator, make_generator
from obliviate.generation import (
    CachedBackend,
    HFBackend,
    OpenAIBackend,
    Sampling,
    VLLMBackend,
    generate,
    vllm_available,
)
from obliviate.generation.hf import hf_sampling_kwargs


def _prompts(tokenizer) -> list[list[int]]:
    bos = tokenizer.bos_token_id
    ids = tokenizer("Mara Kolb was born in", add_special_tokens=False)["input_ids"]
    return [[bos, *ids], [bos, 7], [bos, *ids[:2]], [bos, 5, 6, 9]]


def _direct(model, tokenizer, prompt: list[int], max_new: int, **kw) -> list[int]:
    """One unpadded ``model.generate`` call: the new token ids up to (without) EOS."""
    out = model.generate(torch.tensor([prompt]), max_new_tokens=max_new, do_sample=False,
                         eos_token_id=[tokenizer.eos_token_id],
                         pad_token_id=tokenizer.pad_token_id, **kw)[0, len(prompt):].tolist()  # fmt: skip
    return out[: out.index(tokenizer.eos_token_id)] if tokenizer.eos_token_id in out else out


def test_greedy_equals_direct_model_generate(nano_model, tokenizer) -> None:
    prompts = _prompts(tokenizer)
    gen = make_generator("hf", nano_model, tokenizer, batch_size=3)
    texts = gen(prompts, 8)
    direct = [_direct(nano_model, tokenizer, p, 8) for p in prompts]
    assert any(direct)  # the untrained model does produce tokens before EOS
    assert texts == [tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in direct]
    assert texts == generate(nano_model, tokenizer, prompts, 3, 8)  # the one HF loop
    assert [
        t[0] for t in HFBackend(nano_model, tokenizer).generate(prompts, Sampling.greedy(8))
    ] == texts


def test_greedy_batches_do_not_change_outputs(nano_model, tokenizer) -> None:
    prompts = _prompts(tokenizer)
    one = HFGenerator(nano_model, tokenizer, batch_size=1)(prompts, 6)
    assert HFGenerator(nano_model, tokenizer, batch_size=4)(prompts, 6) == one


def test_stop_ids_end_generation(nano_model, tokenizer) -> None:
    prompt = _prompts(tokenizer)[0]
    ids = _direct(nano_model, tokenizer, prompt, 8)
    stop = ids[1]  # ends the completion where it first appears (it is kept: not a special token)
    (text,) = HFGenerator(nano_model, tokenizer)([prompt], 8, stop_ids=[stop])
    cut = ids[: ids.index(stop) + 1]
    assert len(cut) < len(ids)
    assert text == tokenizer.decode(cut, skip_special_tokens=True).strip()


def test_sampling_settings_map_onto_hf_arguments(tokenizer) -> None:
    assert hf_sampling_kwargs(Sampling.greedy(4), tokenizer) == {}
    s = Sampling(temperature=0.7, top_p=0.9, top_k=5, stop=("\n",))
    assert hf_sampling_kwargs(s, tokenizer) == {
        "do_sample": True, "temperature": 0.7, "top_p": 0.9, "top_k": 5,
        "stop_strings": ["\n"], "tokenizer": tokenizer,
    }  # fmt: skip
    greedy = Sampling.greedy(4, [3])
    assert (greedy.temperature, greedy.seed, greedy.n, greedy.stop_ids) == (0.0, None, 1, (3,))


def test_cache_key_of_chat_requests_is_unchanged() -> None:
    assert Sampling(max_tokens=8).to_dict() == {
        "temperature": 1.0, "top_p": 1.0, "top_k": 0, "max_tokens": 8, "n": 1, "stop": [],
        "seed": 0,
    }  # fmt: skip
    assert Sampling(stop_ids=(2,)).to_dict()["stop_ids"] == [2]


def test_altpo_sampling_reproduced(nano_model, tokenizer) -> None:
    """AltPO's ``manual_seed(seed)`` + ``generate(sampling={do_sample, T, top_p=1, top_k=0})``
    equals the backend with ``Sampling(T, 1.0, 0, max_tokens, seed=seed)``."""
    prompts = _prompts(tokenizer)
    torch.manual_seed(3)
    old = generate(nano_model, tokenizer, prompts, 2, 6, sampling={
        "do_sample": True, "temperature": 1.5, "top_p": 1.0, "top_k": 0})  # fmt: skip
    backend = HFBackend(nano_model, tokenizer, batch_size=2)
    new = backend.generate(prompts, Sampling(1.5, 1.0, 0, max_tokens=6, seed=3))
    assert [t[0] for t in new] == old
    n3 = backend.generate(prompts[:1], Sampling(1.5, max_tokens=6, n=3, seed=3))
    assert len(n3) == 1 and len(n3[0]) == 3


def test_generation_restores_train_mode(nano_model, tokenizer) -> None:
    nano_model.train()
    HFGenerator(nano_model, tokenizer)(_prompts(tokenizer), 2)
    assert nano_model.training


def test_chat_and_token_prompts_agree(nano_model, tokenizer) -> None:
    backend = HFBackend(nano_model, tokenizer, "nano", batch_size=4)
    conv = [{"role": "user", "content": "Where was Mara Kolb born?"}]
    greedy = Sampling(temperature=0.0, max_tokens=6)
    assert backend.chat_many([conv], greedy) == backend.generate([backend.prompt_ids(conv)], greedy)


def test_cached_backend_passes_token_prompts_through(nano_model, tokenizer, tmp_path) -> None:
    backend = HFBackend(nano_model, tokenizer, "nano")
    cached = CachedBackend(backend, tmp_path)
    prompts = _prompts(tokenizer)
    assert cached(prompts, 4) == backend(prompts, 4)
    assert not any(tmp_path.iterdir())  # token-id requests are not cached


def test_openai_backend_takes_chat_only() -> None:
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "m")
    with pytest.raises(ObliviateError, match="takes chat messages, not token-id prompts"):
        backend([[1, 2]], 4)
    assert backend.generate([], Sampling()) == []


@pytest.mark.skipif(vllm_available(), reason="vllm is installed")
def test_vllm_missing_names_the_setting() -> None:
    with pytest.raises(ObliviateError, match=r"eval.backend=vllm needs the vllm package"):
        VLLMBackend("any/model", setting="eval.backend")


def test_vllm_engine_kwargs_for_a_model_and_an_adapter_run(tmp_path):
    import json
    from types import SimpleNamespace

    from obliviate.generation.vllm import engine_kwargs

    settings = SimpleNamespace(vllm_tensor_parallel_size=4, vllm_gpu_memory_utilization=0.5)
    name, kw = engine_kwargs(settings, tmp_path)
    assert name == str(tmp_path)
    assert kw == {"tensor_parallel_size": 4, "gpu_memory_utilization": 0.5}
    (tmp_path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/b"}))
    name, kw = engine_kwargs(SimpleNamespace(), tmp_path)
    assert name == "/b"
    assert kw == {"tensor_parallel_size": 1, "gpu_memory_utilization": 0.9, "enable_lora": True,
                  "max_lora_rank": 64, "lora_path": str(tmp_path)}  # fmt: skip
