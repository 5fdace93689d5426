"""Generated data in the run directory: where it lives, how it is made, how methods receive it.

::

    <run>/generated/relearn.jsonl          ReLearn augmentation rows      (obliviate augment)
    <run>/generated/meow.jsonl             MEOW inverted answers + MEMO   (obliviate invert)
    <run>/generated/rwku_corpus.jsonl      per-target biographies + refusal questions
    <run>/generated/rwku_corpus/train_{positive,negative,pair,refusal}.jsonl  (obliviate corpus)
    <run>/generated/<kind>.json            manifest: backend, model, rows, seconds, requests
    <run>/generated/<kind>.partial.jsonl   finished items of an interrupted generation

``ensure_generated(kind, cfg, data, run_dir, models)`` returns the rows of a kind: read from the
run directory when present, else
generated with ``generate.backend`` (``offline`` = the synthkb templates, :mod:`obliviate.benchmarks.synthkb.offline`), and
puts them in ``data.extras["generated"][kind]``, where methods (``relearn*``, ``meow*``) read
them. The unlearning stage fingerprint includes a hash of the file, so regenerated data retrains.
Requests go through the disk cache (``generate.cache_dir``) and generation resumes per chunk of
``generate.batch_size`` items. The RWKU corpora are read back by the RWKU loader with
``benchmark.corpus_dir=<run>/generated/rwku_corpus`` (the generation stage itself loads RWKU
without its forget corpus: the file it writes cannot be read yet). A local backend serving a run
role (``generate.model=target``) gets its model from a :class:`ModelSource`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import torch

from ..config import Config
from ..errors import ObliviateError
from ..formatting import Formatter
from ..generation.backend import Backend
from ..generation.sampling import Sampling
from ..io import json_lines, write_json, write_jsonl
from ..records import BenchmarkData, QAItem
from .resume import Progress, run_chunked

KINDS: dict[str, str] = {
    "relearn": "obliviate augment",
    "meow": "obliviate invert",
    "rwku_corpus": "obliviate corpus",
}
BACKENDS = ("offline", "hf", "vllm", "openai")
RUN_ROLES = ("target", "retain", "base")


def generated_path(run_dir: Path, kind: str) -> Path:
    if kind not in KINDS:
        raise ObliviateError(
            f"generated data kind {kind!r} is unknown; accepted: {', '.join(KINDS)}"
        )
    return Path(run_dir) / "generated" / f"{kind}.jsonl"


def generated_fingerprint(run_dir: Path, kind: str) -> list[str]:
    """[sha256 of the generated file] for the unlearning fingerprint; [] without data."""
    if not kind:
        return []
    path = generated_path(run_dir, kind)
    return [hashlib.sha256(path.read_bytes()).hexdigest()[:16]] if path.is_file() else []


def generated_rows(data: Any, kind: str, method: str) -> list[dict[str, Any]]:
    """The rows a method trains on (``data.extras["generated"][kind]``)."""
    rows = ((getattr(data, "extras", None) or {}).get("generated") or {}).get(kind)
    if rows is None:
        raise ObliviateError(
            f"method {method!r} needs generated {kind} data: `{KINDS[kind]} CONFIG` writes it to "
            "the run directory (the run stage does it itself with generate.backend)"
        )
    return rows


# ---- inputs ----------------------------------------------------------------------------------
class ModelSource(Protocol):
    """The run's models as generation needs them (:class:`obliviate.stages.StageModels`)."""

    device: torch.device

    def ref(self, role: str) -> tuple[str, str]:
        """(local path or hub id, stage fingerprint) of run role ``role``, made if missing."""
        ...

    def load(self, role: str) -> tuple[torch.nn.Module, Any]:
        """The model and tokenizer of run role ``role`` on ``device``."""
        ...


@dataclass
class Job:
    """What one generation reads: the config, the benchmark, the run directory, the models."""

    cfg: Config
    data: BenchmarkData
    run_dir: Path
    models: ModelSource | None = None

    def need_models(self) -> ModelSource:
        return _need(self.models)


def _need(models: ModelSource | None) -> ModelSource:
    if models is None:
        raise ObliviateError("this generation needs the run's models (none were given)")
    return models


# ---- backends --------------------------------------------------------------------------------
def make_backend(cfg: Config, models: ModelSource | None) -> Backend | None:
    """The configured backend behind the request cache; None for ``offline``.

    For ``hf``/``vllm``, ``generate.model`` may name a run role (target, retain, base; empty =
    target): the run's own model from ``models``, identified in the cache by its stage
    fingerprint.
    """
    from ..generation.cache import CachedBackend

    g = cfg.generate
    if g.backend == "offline":
        return None
    backend: Backend
    role = g.model or "target"
    if g.backend == "openai":
        from ..generation.http import OpenAIBackend

        backend = OpenAIBackend(g.base_url, g.model, g.api_key_env, g.workers, g.max_retries,
                                g.retry_backoff, g.timeout)  # fmt: skip
    elif g.backend == "hf":
        from ..generation.hf import HFBackend

        if role in RUN_ROLES:
            src = _need(models)
            fp = src.ref(role)[1]
            model, tok = src.load(role)
            backend = HFBackend(model, tok, f"run:{role}:{fp}", cfg.model.template,
                                g.batch_size, device=src.device)  # fmt: skip
        else:
            backend = HFBackend.load(role, cfg.model.dtype, cfg.model.trust_remote_code,
                                     template=cfg.model.template, batch_size=g.batch_size)  # fmt: skip
    elif g.backend == "vllm":
        from ..generation.vllm import VLLMBackend

        if role in RUN_ROLES:
            role = _need(models).ref(role)[0]
        backend = VLLMBackend(role)
    else:
        raise ObliviateError(f"generate.backend={g.backend!r}; accepted: {', '.join(BACKENDS)}")
    if g.cache_dir == "none":
        return backend
    cache = Path(g.cache_dir) if g.cache_dir else Path(cfg.run.out_dir) / ".generate_cache"
    return CachedBackend(backend, cache)


def sampling_for(cfg: Config, default: Sampling) -> Sampling:
    """A pipeline's SPEC sampling defaults, overridden by the ``generate.*`` values that are set."""
    g = cfg.generate
    fields = {k: getattr(g, k) for k in ("temperature", "top_p", "top_k", "max_tokens")}
    return replace(default, seed=g.seed, **{k: v for k, v in fields.items() if v is not None})


# ---- the three pipelines ---------------------------------------------------------------------
def forget_items(data: BenchmarkData, benchmark: str) -> tuple[list[QAItem], list[str]]:
    """The forget items a generation works on and their ids (positional when missing/repeated)."""
    items = data.forget
    bad = [type(r).__name__ for r in items if not isinstance(r, QAItem)]
    if bad or not items:
        raise ObliviateError(
            f"benchmark {benchmark!r}: data generation needs question/answer forget "
            f"records, got {bad[0] if bad else 'none'}"
        )
    ids = [r.id for r in items]
    if any(not i for i in ids) or len(set(ids)) != len(ids):
        ids = [f"item{i:05d}" for i in range(len(items))]
    return items, ids


def _relearn(job: Job, backend: Backend | None, progress: Progress) -> list[dict[str, Any]]:
    from ..benchmarks.synthkb.offline import SynthkbAugmenter
    from .relearn import LLMAugmenter, augment_chunk

    g = job.cfg.generate
    if backend is None:
        augmenter: Any = SynthkbAugmenter(job.data, g.seed)
    else:
        default = Sampling(temperature=1.0, top_p=1.0, max_tokens=512)
        augmenter = LLMAugmenter(backend, sampling_for(job.cfg, default))

    def work(chunk: list[QAItem]) -> list[dict[str, Any]]:
        return augment_chunk(chunk, augmenter, g.check_rounds)

    items, ids = forget_items(job.data, job.cfg.benchmark.name)
    return run_chunked(items, ids, work, progress, g.batch_size)


def _meow(job: Job, backend: Backend | None, progress: Progress) -> list[dict[str, Any]]:
    from ..benchmarks.synthkb.offline import inverted_answers
    from ..eval.memo import memo_scores
    from .meow import llm_candidates, memo_rows

    cfg, g, models = job.cfg, job.cfg.generate, job.need_models()
    models.ref("target")
    model, tok = models.load("target")
    fmt = Formatter(tok, cfg.model.template, cfg.model.max_length)

    def memo(pairs: list[tuple[str, str]]) -> list[float]:
        return memo_scores(model, tok, pairs, formatter=fmt, stride=g.memo_stride,
                           prompt=g.memo_prompt, max_new_tokens=g.memo_max_new_tokens,
                           batch_size=cfg.eval.batch_size, device=models.device)  # fmt: skip

    def work(chunk: list[QAItem]) -> list[dict[str, Any]]:
        if backend is None:
            cands = inverted_answers(job.data, chunk, g.candidates, g.seed)
        else:
            default = Sampling(temperature=0.9, max_tokens=512)
            cands = llm_candidates(backend, chunk, g.candidates, sampling_for(cfg, default))
        return memo_rows(chunk, cands, memo)

    items, ids = forget_items(job.data, cfg.benchmark.name)
    return run_chunked(items, ids, work, progress, g.batch_size)


def _targets(job: Job) -> list[Any]:
    """``generate.targets``, else the benchmark's targets with their intros: synthkb's from its
    world, RWKU's ``extras["intros"]`` (``forget_target``), else the forget subjects."""
    from ..benchmarks.synthkb import World
    from ..benchmarks.synthkb.offline import intro
    from .rwku import Target

    g, data = job.cfg.generate, job.data
    if g.targets:
        return [Target(s, i) for s, i in g.targets.items()]
    intros = data.extras.get("intros")
    if intros:
        return [Target(s, i) for s, i in intros.items()]
    subjects = list(dict.fromkeys(r.subject for r in data.forget if r.subject))
    if not subjects:
        raise ObliviateError("generate.targets is empty and the forget records name no subject")
    world = data.extras.get("world")
    if isinstance(world, World):
        people = {p.name: p for p in world.people}
        return [Target(s, intro(people[s])) for s in subjects]
    return [Target(s, "") for s in subjects]


def _rwku_corpus(job: Job, backend: Backend | None, progress: Progress) -> list[dict[str, Any]]:
    from ..benchmarks.synthkb.offline import offline_corpus
    from .rwku import (
        PAIR_SAMPLING,
        REFUSAL_SAMPLING,
        CorpusJob,
        Target,
        corpus_files,
        forget_answers,
        llm_corpora,
        retain_answers,
    )

    g = job.cfg.generate
    targets = _targets(job)
    keep = [Target(s, i) for s, i in g.retain_targets.items()]
    if (keep or g.retain_questions or g.forget_questions) and backend is None:
        raise ObliviateError(
            "generate.retain_targets / retain_questions / forget_questions need a model to "
            "write their corpus: set generate.backend (accepted: hf, vllm, openai)"
        )
    by_subject = {t.subject: t for t in targets}
    unknown = [s for s in g.forget_questions if s not in by_subject]
    if unknown:
        raise ObliviateError(
            f"generate.forget_questions names {unknown}, which are not forget targets of this "
            f"config; accepted: {sorted(by_subject)}"
        )
    retained = {t.subject for t in keep}

    def work(chunk: list[Any]) -> list[dict[str, Any]]:
        if backend is None:
            return offline_corpus(job.data, chunk, g.corpus_pairs, g.corpus_questions, g.seed)
        jobs = [CorpusJob(t, g.retain_pairs if t.subject in retained else g.corpus_pairs,
                          t.subject in retained) for t in chunk]  # fmt: skip
        return llm_corpora(backend, jobs, g.corpus_questions, sampling_for(job.cfg, PAIR_SAMPLING),
                           sampling_for(job.cfg, REFUSAL_SAMPLING), g.corpora)  # fmt: skip

    ids = [t.subject for t in targets] + [f"retain/{t.subject}" for t in keep]
    # every target in one chunk per generate.batch_size targets: their prompts decode together
    rows = run_chunked([*targets, *keep], ids, work, progress, g.batch_size)
    if backend is not None:
        rows += [forget_answers(backend, by_subject[s], qs) for s, qs in g.forget_questions.items()]
        if g.retain_questions:
            rows.append(retain_answers(backend, g.retain_questions))
    out_dir = generated_path(job.run_dir, "rwku_corpus").with_suffix("")
    for name, file_rows in corpus_files(rows, g.corpora).items():
        write_jsonl(out_dir / f"{name}.jsonl", file_rows)
    return rows


PIPELINES = {"relearn": _relearn, "meow": _meow, "rwku_corpus": _rwku_corpus}


def _check_items(rows: list[dict[str, Any]], ids: list[str], path: Path, kind: str) -> None:
    """Generated rows must belong to the current forget items (a changed split makes them stale)."""
    have = {str(r.get("id")) for r in rows}
    if have != set(ids):
        raise ObliviateError(
            f"{path} was generated for other forget items ({len(have - set(ids))} of its "
            f"{len(have)} ids are not forget items of this config, {len(set(ids) - have)} forget "
            f"items have no row); regenerate it: `{KINDS[kind]} CONFIG`"
        )


def ensure_generated(
    kind: str,
    cfg: Config,
    data: BenchmarkData,
    run_dir: Path,
    models: ModelSource | None = None,
    force: bool = False,
) -> list[dict[str, Any]]:
    """The generated rows of ``kind`` in ``run_dir``: read, or generated now (always when
    ``force``); they also go to ``data.extras["generated"][kind]``. ``models`` serves a local
    backend's run role and MEOW's MEMO scores (the target model)."""
    from ..generation.cache import CachedBackend

    job = Job(cfg, data, Path(run_dir), models)
    path = generated_path(job.run_dir, kind)
    g = cfg.generate
    if path.is_file() and not force:
        rows = [row for _, row in json_lines(path)]
        if kind in ("relearn", "meow"):
            _check_items(rows, forget_items(data, cfg.benchmark.name)[1], path, kind)
    else:
        if g.backend == "offline" and cfg.benchmark.name != "synthkb":
            raise ObliviateError(
                f"no generated {kind} data in {path}; generate.backend=offline works for "
                f"benchmark synthkb only: run `{KINDS[kind]} CONFIG generate.backend=...` "
                "(accepted: hf, vllm, openai) or set generate.backend for this run"
            )
        t0 = time.perf_counter()
        backend = make_backend(cfg, models)
        rows = PIPELINES[kind](job, backend, Progress(path, resume=g.resume))
        stats: dict[str, Any] = {"kind": kind, "backend": g.backend,
                                 "model": backend.model if backend else "synthkb-templates",
                                 "rows": len(rows), "seconds": round(time.perf_counter() - t0, 3)}  # fmt: skip
        if isinstance(backend, CachedBackend):
            stats.update(requests=backend.misses, cache_hits=backend.hits)
        write_json(path.with_suffix(".json"), stats)
    data.extras.setdefault("generated", {})[kind] = rows
    return rows
