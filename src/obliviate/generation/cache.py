"""A content-addressed disk cache in front of any backend (SPEC 5: "every request/response cached
on disk, keyed by (backend, model, messages, params)").

key = sha256(JSON{backend kind, model, messages, sampling} + base_url when the backend has one) ; one file ``<dir>/<key[:2]>/<key>.json``
holding the request and its completions, written atomically. A rerun of a generation pipeline
therefore sends no request at all; retries that must differ (ReLearn's leakage-check rounds)
change the seed, hence the key. The API key is never part of a request body, so never cached.
Token-id requests (:meth:`Backend.generate`) go to the inner backend uncached.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from ..io import write_atomic
from .backend import Backend, Conversation
from .sampling import Sampling


class CachedBackend(Backend):
    """``inner`` behind the cache in ``cache_dir``; ``hits``/``misses`` count conversations."""

    def __init__(self, inner: Backend, cache_dir: str | Path):
        self.inner = inner
        self.kind = inner.kind  # type: ignore[misc]
        self.model = inner.model
        # an HTTP backend's server: the same model name on two servers is two models
        self.base_url = str(getattr(inner, "base_url", "") or "")
        self.dir = Path(cache_dir)
        self.hits = 0
        self.misses = 0

    def key(self, conversation: Conversation, sampling: Sampling) -> str:
        request = {"backend": self.kind, "model": self.model, "messages": conversation,
                   "sampling": sampling.to_dict()}  # fmt: skip
        if self.base_url:  # absent for local backends: their keys are those of earlier caches
            request["base_url"] = self.base_url
        blob = json.dumps(request, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def _load(self, key: str) -> list[str] | None:
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        outputs = entry.get("outputs")
        return outputs if isinstance(outputs, list) else None

    def _store(self, key: str, conversation: Conversation, sampling: Sampling, outputs: list[str]):
        entry = {"backend": self.kind, "model": self.model, "messages": conversation,
                 "sampling": sampling.to_dict(), "outputs": outputs}  # fmt: skip
        write_atomic(self._path(key), json.dumps(entry, ensure_ascii=False) + "\n")

    def _complete(
        self, conversations: Sequence[Conversation], sampling: Sampling
    ) -> list[list[str]]:
        keys = [self.key(c, sampling) for c in conversations]
        found: dict[str, list[str]] = {}
        for k in dict.fromkeys(keys):
            cached = self._load(k)
            if cached is not None:
                found[k] = cached
        todo = {k: c for k, c in zip(keys, conversations) if k not in found}
        n_missing = sum(k not in found for k in keys)
        self.hits += len(keys) - n_missing
        self.misses += n_missing
        if todo:
            outputs = self.inner.chat_many(list(todo.values()), sampling)
            for (k, conv), texts in zip(todo.items(), outputs):
                self._store(k, conv, sampling, texts)
                found[k] = texts
        return [found[k] for k in keys]

    def _generate(self, prompts: list[list[int]], sampling: Sampling) -> list[list[str]]:
        return self.inner._generate(prompts, sampling)
