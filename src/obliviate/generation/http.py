"""An OpenAI-compatible chat-completions backend over HTTP, standard library only (SPEC 5).

POST ``{base_url}/chat/completions`` with ``{"model", "messages", "temperature", "top_p",
"max_tokens", "n", "seed"}`` (+ ``"stop"`` when given, + ``"top_k"`` when > 0, an extension
vLLM, SGLang and most local servers accept); completions are ``choices[i].message.content``.
Any server speaking this protocol works: OpenAI, DeepSeek, Zhipu GLM, Qwen/DashScope, vLLM,
llama.cpp, Ollama.

The API key is read at request time from the environment variable whose *name* is configured
(``generate.api_key_env``); it is sent only in the ``Authorization`` header and never logged,
cached, written or put into an error message. Connection errors, timeouts, HTTP 429 and 5xx are
retried ``max_retries`` times with exponential backoff (``backoff · 2^attempt`` seconds); other
HTTP errors fail at once. Conversations of a batch are sent by ``workers`` threads
(ReLearn used 8). A server that returns fewer than ``n`` choices is asked again for the rest
(seed + the number already received).
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import ObliviateError
from .backend import Backend, Conversation
from .sampling import Sampling

RETRY_STATUS = (408, 409, 429, 500, 502, 503, 504)


class OpenAIBackend(Backend):
    """Chat completions from an OpenAI-compatible endpoint."""

    kind = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "",
        workers: int = 8,
        max_retries: int = 4,
        backoff: float = 1.0,
        timeout: float = 120.0,
    ):
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ObliviateError(
                f"generate.base_url={base_url!r}: the openai backend needs an http(s) URL, "
                "e.g. http://127.0.0.1:8000/v1 or https://api.openai.com/v1"
            )
        if not model:
            raise ObliviateError("generate.model is empty: the openai backend needs a model name")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.workers = max(1, workers)
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self.timeout = timeout
        self.requests = 0  # HTTP requests sent, retries included
        self._lock = threading.Lock()
        self._api_key()  # fail before any work when the variable is missing

    def _api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ObliviateError(
                f"generate.api_key_env={self.api_key_env!r}: the environment variable "
                f"{self.api_key_env} is not set (export it, or set generate.api_key_env='' for "
                "a server without authentication)"
            )
        return key

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/chat/completions"
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        key = self._api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        reason = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            with self._lock:
                self.requests += 1
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")[:300]
                if key:  # a server echoing the request must not put the key into our message
                    detail = detail.replace(key, "***")
                if exc.code not in RETRY_STATUS:
                    raise ObliviateError(
                        f"{url} answered HTTP {exc.code} ({exc.reason}): {detail} "
                        "(check generate.model, generate.base_url and the API key variable "
                        f"{self.api_key_env or '(none)'})"
                    ) from None
                reason = f"HTTP {exc.code} {exc.reason}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                reason = str(getattr(exc, "reason", exc))
            except json.JSONDecodeError as exc:
                raise ObliviateError(f"{url} returned invalid JSON: {exc.msg}") from None
        raise ObliviateError(
            f"cannot get a completion from {url} (generate.base_url) after "
            f"{self.max_retries + 1} attempts: {reason}"
        )

    def _one(self, conversation: Conversation, sampling: Sampling) -> list[str]:
        texts: list[str] = []
        while len(texts) < sampling.n:
            payload: dict[str, Any] = {
                "model": self.model,
                "messages": conversation,
                "temperature": sampling.temperature,
                "top_p": sampling.top_p,
                "max_tokens": sampling.max_tokens,
                "n": sampling.n - len(texts),
                "seed": sampling.seed + len(texts),
            }
            if sampling.stop:
                payload["stop"] = list(sampling.stop)
            if sampling.top_k > 0:
                payload["top_k"] = sampling.top_k
            data = self._post(payload)
            try:
                choices = sorted(data["choices"], key=lambda c: c.get("index", 0))
                got = [c["message"]["content"] or "" for c in choices]
            except (KeyError, TypeError, AttributeError):
                raise ObliviateError(
                    f"{self.base_url}/chat/completions: response has no choices[i].message.content "
                    f"(keys: {sorted(data) if isinstance(data, dict) else type(data).__name__})"
                ) from None
            if not got:
                raise ObliviateError(f"{self.base_url}/chat/completions returned no choices")
            texts.extend(got)
        return texts[: sampling.n]

    def _complete(self, conversations: list[Conversation], sampling: Sampling) -> list[list[str]]:
        if self.workers == 1 or len(conversations) == 1:
            return [self._one(c, sampling) for c in conversations]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(lambda c: self._one(c, sampling), conversations))
