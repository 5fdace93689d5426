"""The OpenAI-compatible backend against a local server: retries, refusal, key handling, cache."""

from __future__ import annotations

import socket

import pytest

from obliviate.errors import ObliviateError
from obliviate.generation.cache import CachedBackend
from obliviate.generation.http import OpenAIBackend
from obliviate.generation.sampling import Sampling, cut_at_stop

HELLO = [{"role": "user", "content": "Say hello."}]


def backend(url: str, **kw) -> OpenAIBackend:
    return OpenAIBackend(url, "fake-model", backoff=0.01, **kw)


def test_completion_payload_and_n(llm_server):
    url, llm = llm_server
    out = backend(url).chat(HELLO, temperature=0.7, top_p=0.9, top_k=5, max_tokens=16, n=2, seed=3)
    assert out == ["completion 0 seed 3", "completion 1 seed 3"]
    sent = llm.payloads[0]
    assert sent["model"] == "fake-model" and sent["messages"] == HELLO
    assert (sent["temperature"], sent["top_p"], sent["top_k"], sent["max_tokens"], sent["n"]) == (
        0.7, 0.9, 5, 16, 2,
    )  # fmt: skip
    assert "stop" not in sent  # only sent when given


def test_server_ignoring_n_is_asked_again(llm_server):
    url, llm = llm_server
    llm.choices_per_request = 1
    out = backend(url).chat(HELLO, n=3, seed=10)
    # three requests, the seed advanced by the number of completions already received
    assert out == ["completion 0 seed 10", "completion 0 seed 11", "completion 0 seed 12"]
    assert llm.count == 3


def test_retry_after_500(llm_server):
    url, llm = llm_server
    llm.fail_first = 2
    b = backend(url, max_retries=3)
    assert b.chat(HELLO) == ["completion 0 seed 0"]
    assert llm.count == 3 and b.requests == 3


def test_retries_exhausted_is_a_clear_error(llm_server):
    url, llm = llm_server
    llm.fail_first = 10
    with pytest.raises(ObliviateError, match=r"after 3 attempts: HTTP 500"):
        backend(url, max_retries=2).chat(HELLO)
    assert llm.count == 3


def test_client_error_is_not_retried(llm_server):
    url, llm = llm_server
    llm.fail_after = 0
    with pytest.raises(ObliviateError, match=r"HTTP 400.*scripted failure"):
        backend(url, max_retries=3).chat(HELLO)
    assert llm.count == 1


def test_connection_refused_is_a_clear_error():
    with socket.socket() as s:  # a port that was free a moment ago and is now closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    b = backend(url, max_retries=1)
    with pytest.raises(
        ObliviateError,
        match=r"cannot get a completion from .*generate.base_url.*2 attempts.*refused",
    ):
        b.chat(HELLO)
    assert b.requests == 2


def test_bad_configuration_errors():
    with pytest.raises(ObliviateError, match="generate.base_url"):
        OpenAIBackend("localhost:8000", "m")
    with pytest.raises(ObliviateError, match="generate.model"):
        OpenAIBackend("http://127.0.0.1:1/v1", "")


def test_api_key_from_env_only_in_header(llm_server, monkeypatch):
    url, llm = llm_server
    monkeypatch.delenv("OBLIVIATE_TEST_KEY", raising=False)
    with pytest.raises(ObliviateError, match="OBLIVIATE_TEST_KEY is not set"):
        backend(url, api_key_env="OBLIVIATE_TEST_KEY")
    monkeypatch.setenv("OBLIVIATE_TEST_KEY", "sk-test-4242")
    backend(url, api_key_env="OBLIVIATE_TEST_KEY").chat(HELLO)
    assert llm.auth == ["Bearer sk-test-4242"]
    assert "sk-test-4242" not in str(llm.payloads)
    llm.fail_after = 0  # an error message never carries the key
    with pytest.raises(ObliviateError) as err:
        backend(url, api_key_env="OBLIVIATE_TEST_KEY").chat(HELLO)
    assert "sk-test-4242" not in str(err.value) and "OBLIVIATE_TEST_KEY" in str(err.value)


def test_cache_hit_on_rerun(llm_server, tmp_path, monkeypatch):
    url, llm = llm_server
    monkeypatch.setenv("OBLIVIATE_TEST_KEY", "sk-secret-cache")
    convs = [HELLO, [{"role": "user", "content": "Say bye."}], HELLO]
    sampling = Sampling(temperature=0.5, max_tokens=8, seed=1)
    first = CachedBackend(backend(url, api_key_env="OBLIVIATE_TEST_KEY"), tmp_path / "cache")
    out1 = first.chat_many(convs, sampling)
    assert llm.count == 2  # the repeated conversation is sent once
    assert (first.hits, first.misses) == (0, 3)
    again = CachedBackend(backend(url, api_key_env="OBLIVIATE_TEST_KEY"), tmp_path / "cache")
    assert again.chat_many(convs, sampling) == out1
    assert llm.count == 2 and (again.hits, again.misses) == (3, 0)
    # other sampling parameters are another key
    again.chat_many([HELLO], Sampling(temperature=0.5, max_tokens=8, seed=2))
    assert llm.count == 3
    files = list((tmp_path / "cache").rglob("*.json"))
    assert len(files) == 3
    assert all("sk-secret-cache" not in f.read_text() for f in files)


def test_stop_strings_are_cut():
    assert cut_at_stop("Alpha\nQuestion: next", ["Question:", "Q:"]) == "Alpha\n"
    assert cut_at_stop("no stop here", ["###"]) == "no stop here"
    assert cut_at_stop("aQ:bQuestion:", ["Question:", "Q:"]) == "a"
