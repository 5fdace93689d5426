"""The evaluation context a suite runs in (model, formatter, settings, other models) and the
per-set result it returns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ...distributed import sharded
from ...errors import ObliviateError
from ...formatting import Formatter
from ..generation import HFGenerator


@dataclass
class SetResult:
    """Per-item rows (for JSONL), per-set aggregate metrics and the metrics asked for."""

    metrics: dict[str, float] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    wanted: frozenset[str] = frozenset()


@dataclass
class EvalContext:
    model: torch.nn.Module
    tokenizer: Any
    formatter: Formatter
    batch_size: int = 32
    max_new_tokens: int = 32
    device: torch.device | str = "cpu"
    prefix: Callable[[Any], str] | None = None  # per-record prompt prefix (in-context unlearning)
    config: Any = None  # the run's EvalConfig: metrics, min_k, meow_*, scorer_model, kfr_krr
    generator: Callable[..., list[str]] | None = None  # eval.backend; None: HF on ``model``
    load_model: Callable[[str], tuple[Any, Any]] | None = None  # run role / hub id -> (model, tok)
    role: str = ""  # the evaluated model's run role (target, retain, unlearned)
    chat: Callable[[str], str] | None = None  # one-turn LLM (``generate`` backend): KFR entities
    _models: dict[str, tuple[Any, Formatter]] = field(default_factory=dict, repr=False)
    _judge: Any = field(default=None, repr=False)

    def prefix_of(self, record: Any) -> str:
        return self.prefix(record) if self.prefix is not None else ""

    def option(self, name: str, default: Any) -> Any:
        return getattr(self.config, name, default) if self.config is not None else default

    def generate(
        self, prompts: Sequence[list[int]], max_new_tokens: int | None = None
    ) -> list[str]:
        """Greedy continuations through the configured backend (HF by default); under several
        processes each rank generates every W-th prompt, gathered back in order."""
        gen = self.generator or HFGenerator(
            self.model, self.tokenizer, self.batch_size, self.device
        )
        n = max_new_tokens or self.max_new_tokens
        return sharded(list(prompts), lambda part: gen(part, n) if part else [], "generate")

    def other_model(self, key: str, name: str) -> tuple[Any, Formatter]:
        """Model and formatter named by config ``key``: ``self``, a run role or a hub id / path
        (the evaluated model when it names this role); each loaded once per context."""
        if name in ("self", self.role):
            return self.model, self.formatter
        if name not in self._models:
            if self.load_model is None:
                raise ObliviateError(f"eval.{key}={name!r}: this context cannot load models")
            model, tok = self.load_model(name)
            fmt = Formatter(tok, self.formatter.template, self.formatter.max_length)
            self._models[name] = (model, fmt)
        return self._models[name]

    def scorer(self) -> tuple[Any, Formatter]:
        """The linguistic score's PPL model (``eval.scorer_model``)."""
        return self.other_model("scorer_model", self.option("scorer_model", "self"))

    def judge(self):
        """The KFR / KRR judge built from ``eval.kfr_krr`` (loaded once per context)."""
        if self._judge is None:
            from ..kfr_krr import build_judge

            if self.config is None:
                raise ObliviateError("kfr / krr need eval.kfr_krr settings (the run's eval config)")
            self._judge = build_judge(self.config.kfr_krr, self.device, self.chat)
        return self._judge
