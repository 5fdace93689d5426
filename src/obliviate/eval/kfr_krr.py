"""KFR / KRR on generations: NLI model, sentence embeddings, pluggable entity extraction.

The decision rules and formulas are in :mod:`obliviate.eval.metrics.kfr_krr` (SPEC 6.6). This
module runs the models:

- :class:`NLIModel`: any ``AutoModelForSequenceClassification`` hub id or path (ReLearn:
  ``sileod/deberta-v3-base-tasksource-nli``); the top label of ``(premise, hypothesis)``, named
  by the model's ``id2label`` (lowercased).
- :class:`Embedder`: any ``AutoModel`` hub id or path (ReLearn: ``all-MiniLM-L12-v2``); the
  sentence embedding is the attention-masked mean of the last hidden states, which is the pooling
  of the sentence-transformers MiniLM models (their final L2 normalisation does not change
  cosines), so ``sentence-transformers`` is not needed.
- entity extractors, ``(query, text) -> list[str]``: :class:`LLMEntityExtractor` (ReLearn's prompt
  to any chat function, e.g. an :mod:`obliviate.generate` backend, answers cached in memory; wrap
  the backend in ``generation.cache.CachedBackend`` to cache on disk) and
  :class:`RegexEntityExtractor` (offline: e-mail addresses, dates, numbers, quoted titles and
  capitalised name spans).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from ..errors import ObliviateError
from .metrics import kfr_krr as rules

# ReLearn evals/evaluate.py prompt_template (query and response filled in)
ENTITY_PROMPT = """>>>query:{query}\nresponse:{response}<<<

Extract key entities from the response (excluding those already in the query):
1. Specific entities: name*, email*, locations*, dates*, organizations, events, technical terms
2. Core nouns from noun phrases: prefer extracting only the main noun (e.g., "literary" from "literary projects")
3. Only return the single core word when it's multi-word entity phrases

Avoid extracting common verbs or general defination(like 'email', 'people', 'events' 'books' and so on)

Return a list of unique entities as comma-separated values (duplicates should appear only once), without additional explanations."""


class EntityExtractor(Protocol):
    def __call__(self, query: str, text: str) -> list[str]: ...


def parse_entity_list(response: str) -> list[str]:
    """ReLearn ``parse_response``: split on ",", strip `` \\n\\/"``, drop empties, dedupe."""
    items = (r.strip(' \n\\/"') for r in response.split(","))
    return list(dict.fromkeys(i for i in items if i))


class LLMEntityExtractor:
    """ReLearn's extraction: ``chat(prompt) -> str`` answers ``ENTITY_PROMPT``; cached by input."""

    def __init__(self, chat: Callable[[str], str]):
        self.chat = chat
        self._cache: dict[tuple[str, str], list[str]] = {}

    def __call__(self, query: str, text: str) -> list[str]:
        key = (query, text)
        if key not in self._cache:
            self._cache[key] = parse_entity_list(
                self.chat(ENTITY_PROMPT.format(query=query, response=text))
            )
        return self._cache[key]


_ENTITY_PATTERNS = [
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),  # e-mail addresses
    re.compile(r"\b\d{1,2} [A-Z][a-z]+ \d{4}\b"),  # dates like 12 March 1961
    re.compile(r"\"([^\"]+)\""),  # quoted titles
    re.compile(r"\b\d+(?:[.,]\d+)*\b"),  # numbers, years
    re.compile(r"\b[A-Z][\w'-]*(?: (?:of |and |the )?[A-Z][\w'-]*)*"),  # capitalised spans
]


class RegexEntityExtractor:
    """Offline extractor: e-mails, dates, quoted titles, numbers and capitalised spans, in order
    of first appearance, each text span used once. The query is ignored here: predicted
    entities that overlap the query are dropped afterwards (ReLearn ``filter_entities``)."""

    def __call__(self, query: str, text: str) -> list[str]:
        found: list[tuple[int, str]] = []
        taken = [False] * len(text)
        for pattern in _ENTITY_PATTERNS:
            for m in pattern.finditer(text):
                span = m.span(1) if m.groups() else m.span()
                if any(taken[span[0] : span[1]]):
                    continue
                taken[span[0] : span[1]] = [True] * (span[1] - span[0])
                found.append((span[0], text[span[0] : span[1]].strip()))
        return list(dict.fromkeys(s for _, s in sorted(found) if s))


ENTITY_EXTRACTORS: dict[str, Callable[[], EntityExtractor]] = {"regex": RegexEntityExtractor}


def _load(name_or_path: str, auto_class: Any, what: str):
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name_or_path)
        model = auto_class.from_pretrained(name_or_path)
    except OSError as exc:
        raise ObliviateError(
            f"{what} {name_or_path!r} could not be loaded: {str(exc).splitlines()[0]}"
        ) from None
    return tok, model.eval()


class NLIModel:
    """Top NLI label of (premise, hypothesis) pairs, batched."""

    def __init__(self, name_or_path: str, device: torch.device | str = "cpu", batch_size: int = 16):
        from transformers import AutoModelForSequenceClassification

        self.tok, self.model = _load(
            name_or_path, AutoModelForSequenceClassification, "eval.kfr_krr.nli_model"
        )
        self.model.to(device)
        self.device, self.batch_size = device, batch_size
        labels = {str(v).lower() for v in self.model.config.id2label.values()}
        if rules.CONTRADICTION not in labels:
            raise ObliviateError(
                f"eval.kfr_krr.nli_model={name_or_path!r} has labels {sorted(labels)}; an NLI "
                f"model with a {rules.CONTRADICTION!r} label is needed"
            )

    @torch.no_grad()
    def labels(self, premises: Sequence[str], hypotheses: Sequence[str]) -> list[str]:
        out: list[str] = []
        for s in range(0, len(premises), self.batch_size):
            enc = self.tok(
                list(premises[s : s + self.batch_size]),
                list(hypotheses[s : s + self.batch_size]),
                padding=True, truncation=True, return_tensors="pt",
            ).to(self.device)  # fmt: skip
            top = self.model(**enc).logits.argmax(-1).tolist()
            out += [str(self.model.config.id2label[i]).lower() for i in top]
        return out


class Embedder:
    """Sentence embeddings: attention-masked mean of the last hidden states, batched."""

    def __init__(self, name_or_path: str, device: torch.device | str = "cpu", batch_size: int = 64):
        from transformers import AutoModel

        self.tok, self.model = _load(name_or_path, AutoModel, "eval.kfr_krr.embedding_model")
        self.model.to(device)
        self.device, self.batch_size = device, batch_size

    @torch.no_grad()
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        chunks = []
        for s in range(0, len(texts), self.batch_size):
            enc = self.tok(
                list(texts[s : s + self.batch_size]), padding=True, truncation=True,
                return_tensors="pt",
            ).to(self.device)  # fmt: skip
            hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            chunks.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).float().cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, 0))


@dataclass
class Judge:
    """The three pluggable parts of KFR / KRR and the paper's thresholds."""

    nli: NLIModel
    embedder: Embedder
    extractor: EntityExtractor
    theta_1: float = rules.THETA_1
    theta_2: float = rules.THETA_2

    def judge(
        self,
        queries: Sequence[str],
        generations: Sequence[str],
        ground_truths: Sequence[str],
        forget: bool,
    ) -> list[dict[str, Any]]:
        """Per item: NLI label, entities, E and the KFR (``forget``) or KRR decision."""
        if forget:  # premise = generation, hypothesis = ground truth
            nli = self.nli.labels(generations, ground_truths)
        else:  # premise = ground truth, hypothesis = generation
            nli = self.nli.labels(ground_truths, generations)
        pred = [
            rules.filter_entities(q, self.extractor(q, g)) for q, g in zip(queries, generations)
        ]
        gold = [self.extractor(q, t) for q, t in zip(queries, ground_truths)]
        flat = [e for ents in pred + gold for e in ents]
        vectors = dict(zip(flat, self.embedder.encode(flat))) if flat else {}
        rows = []
        for label, p, g in zip(nli, pred, gold):
            e = rules.entity_score([vectors[x] for x in p], [vectors[x] for x in g])
            decision = (
                rules.forgotten(label, e, len(g), self.theta_1)
                if forget
                else rules.retained(label, e, self.theta_2)
            )
            rows.append(
                {
                    "nli": label,
                    "entities_pred": p,
                    "entities_gt": g,
                    "entity_score": e,
                    "kfr" if forget else "krr": float(decision),
                }  # fmt: skip
            )
        return rows


def build_judge(
    cfg: Any, device: torch.device | str = "cpu", chat: Callable[[str], str] | None = None
) -> Judge:
    """A :class:`Judge` from ``eval.kfr_krr`` (nli_model, embedding_model, entity_extractor,
    theta_1, theta_2). ``entity_extractor=llm`` asks ``chat`` (the run's ``generate`` backend,
    e.g. an OpenAI-compatible endpoint serving deepseek-chat as ReLearn does)."""
    accepted = [*ENTITY_EXTRACTORS, "llm"]
    if cfg.entity_extractor not in accepted:
        raise ObliviateError(
            f"eval.kfr_krr.entity_extractor={cfg.entity_extractor!r} is unknown; accepted: "
            f"{', '.join(accepted)}"
        )
    if cfg.entity_extractor == "llm":
        if chat is None:
            raise ObliviateError(
                "eval.kfr_krr.entity_extractor=llm needs an LLM: set generate.backend "
                "(hf, vllm or openai) and generate.model"
            )
        extractor: EntityExtractor = LLMEntityExtractor(chat)
    else:
        extractor = ENTITY_EXTRACTORS[cfg.entity_extractor]()
    return Judge(
        NLIModel(cfg.nli_model, device),
        Embedder(cfg.embedding_model, device),
        extractor,
        cfg.theta_1,
        cfg.theta_2,
    )
