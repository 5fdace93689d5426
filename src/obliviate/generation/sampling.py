"""Decoding settings shared by every generation backend (SPEC 5, "LLM backend contract")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import ObliviateError


@dataclass(frozen=True)
class Sampling:
    """Decoding parameters of one request.

    ``temperature == 0`` means greedy; ``top_k == 0`` means no top-k filter; ``stop`` strings end
    a completion (the stop string is cut off); ``stop_ids`` are token ids that end it besides EOS
    (e.g. a chat model's end-of-turn id; local backends only). ``seed`` seeds the sampler before
    the request; ``None`` leaves the RNG untouched (evaluation's greedy decoding).
    """

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int = 256
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = 0
    stop_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.n < 1 or self.max_tokens < 1:
            raise ObliviateError(
                f"sampling: n={self.n} and max_tokens={self.max_tokens} must be >= 1"
            )
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise ObliviateError(
                f"sampling: temperature={self.temperature} (>= 0), top_p={self.top_p} (in (0, 1]) "
                f"and top_k={self.top_k} (>= 0) out of range"
            )

    @classmethod
    def greedy(cls, max_tokens: int, stop_ids: Sequence[int] = ()) -> Sampling:
        """Evaluation's decoding: greedy, one completion, the RNG untouched."""
        return cls(temperature=0.0, max_tokens=max_tokens, seed=None, stop_ids=tuple(stop_ids))

    def to_dict(self) -> dict[str, Any]:
        """The request's settings (the cache key; ``stop_ids`` only when set, so keys of chat
        requests are those written before the field existed)."""
        out = {**asdict(self), "stop": list(self.stop), "stop_ids": list(self.stop_ids)}
        if not self.stop_ids:
            del out["stop_ids"]
        return out


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the earliest occurrence of any stop string."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]
