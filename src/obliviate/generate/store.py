"""Generated data in the run directory: where it lives, how it is made, how methods receive it.

::

    <run>/generated/relearn.jsonl          ReLearn augmentation rows      (obliviate augment)
    <run>/generated/meow.jsonl             MEOW inverted answers + MEMO   (obliviate invert)
    <run>/generated/rwku_corpus.jsonl      per-target biographies + refusal questions
    <run>/generated/rwku_corpus/train_{positive,negative,pair,refusal}.jsonl  (obliviate corpus)
    <run>/generated/<kind>.json            manifest: backend, model, rows, seconds, requests
    <run>/generated/<kind>.partial.jsonl   finished items of an interrupted generation

``ensure_generated`` returns the rows of a kind: read from the run directory when present, else
generated with ``generate.backend`` (``offline`` = the synthkb templates, :mod:`.offline`), and
puts them in ``data.extras["generated"][kind]``, where methods (``relearn*``, ``meow*``) read
them. The unlearning stage fingerprint includes a hash of the file, so regenerated data retrains.
Requests go through the disk cache (``generate.cache_dir``) and generation resumes per chunk of
``generate.batch_size`` items. The RWKU corpora are read back by the RWKU loader with
``benchmark.corpus_dir=<run>/generated/rwku_corpus`` (the generation step itself loads RWKU
without its forget corpus: the file it writes cannot be read yet).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ObliviateError
from ..io import json_lines, write_json, write_jsonl
from ..records import QAItem
from .backend import Backend, Sampling
from .resume import Progress, run_chunked

KINDS: dict[str, str] = {
    "relearn": "obliviate augment",
    "meow": "obliviate invert",
    "rwku_corpus": "obliviate corpus",
}
BACKENDS = ("offline", "hf", "vllm", "openai")
RUN_ROLES = ("target", "retain", "base")


def validate_generate(g: Any) -> None:
    """Check the ``generate`` section, naming the key and the accepted values."""
    from ..eval.memo import PROMPTS

    if g.backend not in BACKENDS:
        raise ObliviateError(
            f"generate.backend={g.backend!r} is unknown; accepted: {', '.join(BACKENDS)}"
        )
    if g.backend == "openai" and not (g.base_url and g.model):
        raise ObliviateError(
            "generate.backend=openai needs generate.base_url (e.g. https://api.openai.com/v1) "
            "and generate.model"
        )
    if g.memo_prompt not in PROMPTS:
        raise ObliviateError(
            f"generate.memo_prompt={g.memo_prompt!r}; accepted: {', '.join(PROMPTS)}"
        )
    for key in ("batch_size", "workers", "check_rounds", "candidates", "memo_stride",
                "memo_max_new_tokens", "corpus_pairs", "corpus_questions"):  # fmt: skip
        if getattr(g, key) < 1:
            raise ObliviateError(f"generate.{key}={getattr(g, key)}; accepted: an integer >= 1")
    if g.max_retries < 0:
        raise ObliviateError(f"generate.max_retries={g.max_retries}; accepted: >= 0")


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


# ---- backends --------------------------------------------------------------------------------
def _run_model(run: Any, role: str) -> tuple[str, str]:
    """(local path or hub id, fingerprint) of a run's model: target, retain or base."""
    if role == "base":
        run.stage_base()
        tiny = run.cfg.model.name_or_path == "tiny"
        return (str(run.model_dir("base")) if tiny else run.cfg.model.name_or_path), run.fp_base()
    run.ensure_model(role)
    return str(run.model_dir(role)), run.fp_model(role)


def make_backend(run: Any) -> Backend | None:
    """The configured backend behind the request cache; None for ``offline``.

    For ``hf``/``vllm``, ``generate.model`` may name a run role (target, retain, base; empty =
    target): the run's own model, identified in the cache by its stage fingerprint.
    """
    from .cache import CachedBackend

    g = run.cfg.generate
    if g.backend == "offline":
        return None
    backend: Backend
    if g.backend == "openai":
        from .http import OpenAIBackend

        backend = OpenAIBackend(g.base_url, g.model, g.api_key_env, g.workers, g.max_retries,
                                g.retry_backoff, g.timeout)  # fmt: skip
    elif g.backend == "hf":
        from .hf import HFBackend

        role = g.model or "target"
        if role in RUN_ROLES:
            path, fp = _run_model(run, role)
            model, tok = run.load(role)
            backend = HFBackend(model, tok, f"run:{role}:{fp}", run.cfg.model.template,
                                g.batch_size, device=run.device)  # fmt: skip
        else:
            backend = HFBackend.load(role, run.cfg.model.dtype, run.cfg.model.trust_remote_code,
                                     template=run.cfg.model.template, batch_size=g.batch_size)  # fmt: skip
    elif g.backend == "vllm":
        from .vllm_backend import VLLMBackend

        role = g.model or "target"
        backend = VLLMBackend(_run_model(run, role)[0] if role in RUN_ROLES else role)
    else:
        raise ObliviateError(f"generate.backend={g.backend!r}; accepted: {', '.join(BACKENDS)}")
    if g.cache_dir == "none":
        return backend
    cache = Path(g.cache_dir) if g.cache_dir else Path(run.cfg.run.out_dir) / ".generate_cache"
    return CachedBackend(backend, cache)


def sampling_for(run: Any, default: Sampling) -> Sampling:
    """A pipeline's SPEC sampling defaults, overridden by the ``generate.*`` values that are set."""
    g = run.cfg.generate
    fields = {k: getattr(g, k) for k in ("temperature", "top_p", "top_k", "max_tokens")}
    return replace(default, seed=g.seed, **{k: v for k, v in fields.items() if v is not None})


# ---- the three pipelines ---------------------------------------------------------------------
def _forget_items(run: Any) -> tuple[list[QAItem], list[str]]:
    items = run.data.forget
    bad = [type(r).__name__ for r in items if not isinstance(r, QAItem)]
    if bad or not items:
        raise ObliviateError(
            f"benchmark {run.cfg.benchmark.name!r}: data generation needs question/answer forget "
            f"records, got {bad[0] if bad else 'none'}"
        )
    ids = [r.id for r in items]
    if any(not i for i in ids) or len(set(ids)) != len(ids):
        ids = [f"item{i:05d}" for i in range(len(items))]
    return items, ids


def _relearn(run: Any, backend: Backend | None, progress: Progress) -> list[dict[str, Any]]:
    from ..benchmarks.synthkb.offline import SynthkbAugmenter
    from .relearn import LLMAugmenter, augment_chunk

    g = run.cfg.generate
    if backend is None:
        augmenter: Any = SynthkbAugmenter(run.data, g.seed)
    else:
        default = Sampling(temperature=1.0, top_p=1.0, max_tokens=512)
        augmenter = LLMAugmenter(backend, sampling_for(run, default))

    def work(chunk: list[QAItem]) -> list[dict[str, Any]]:
        return augment_chunk(chunk, augmenter, g.check_rounds)

    items, ids = _forget_items(run)
    return run_chunked(items, ids, work, progress, g.batch_size)


def _meow(run: Any, backend: Backend | None, progress: Progress) -> list[dict[str, Any]]:
    from ..benchmarks.synthkb.offline import inverted_answers
    from ..eval.memo import memo_scores
    from .meow import llm_candidates, memo_rows

    g = run.cfg.generate
    run.ensure_model("target")
    model, tok = run.load("target")
    fmt = run.formatter(tok)

    def memo(pairs: list[tuple[str, str]]) -> list[float]:
        return memo_scores(model, tok, pairs, formatter=fmt, stride=g.memo_stride,
                           prompt=g.memo_prompt, max_new_tokens=g.memo_max_new_tokens,
                           batch_size=run.cfg.eval.batch_size, device=run.device)  # fmt: skip

    def work(chunk: list[QAItem]) -> list[dict[str, Any]]:
        if backend is None:
            cands = inverted_answers(run.data, chunk, g.candidates, g.seed)
        else:
            default = Sampling(temperature=0.9, max_tokens=512)
            cands = llm_candidates(backend, chunk, g.candidates, sampling_for(run, default))
        return memo_rows(chunk, cands, memo)

    items, ids = _forget_items(run)
    return run_chunked(items, ids, work, progress, g.batch_size)


def _targets(run: Any) -> list[Any]:
    """``generate.targets``, else the benchmark's targets with their intros: synthkb's from its
    world, RWKU's ``extras["intros"]`` (``forget_target``), else the forget subjects."""
    from ..benchmarks.synthkb import World
    from ..benchmarks.synthkb.offline import intro
    from .rwku import Target

    g = run.cfg.generate
    if g.targets:
        return [Target(s, i) for s, i in g.targets.items()]
    intros = run.data.extras.get("intros")
    if intros:
        return [Target(s, i) for s, i in intros.items()]
    subjects = list(dict.fromkeys(r.subject for r in run.data.forget if r.subject))
    if not subjects:
        raise ObliviateError("generate.targets is empty and the forget records name no subject")
    world = run.data.extras.get("world")
    if isinstance(world, World):
        people = {p.name: p for p in world.people}
        return [Target(s, intro(people[s])) for s in subjects]
    return [Target(s, "") for s in subjects]


def _load_for_corpus(run: Any) -> None:
    """RWKU with ``benchmark.corpus_dir``: the corpus this step writes cannot be read yet, so the
    run loads the benchmark without a forget corpus (targets, intros, probes: what generation
    and the tiny model's stand-in need; :func:`obliviate.benchmarks.rwku.load`)."""
    from ..benchmarks import rwku
    from ..benchmarks.general import attach_general

    bcfg = run.cfg.benchmark
    if bcfg.name == "rwku" and bcfg.corpus_dir and not run.data_loaded:
        run.use_data(attach_general(rwku.load(bcfg, with_corpus=False), bcfg))


def _rwku_corpus(run: Any, backend: Backend | None, progress: Progress) -> list[dict[str, Any]]:
    from ..benchmarks.synthkb.offline import offline_corpus
    from .rwku import PAIR_SAMPLING, REFUSAL_SAMPLING, corpus_files, llm_corpus

    g = run.cfg.generate
    targets = _targets(run)

    def work(chunk: list[Any]) -> list[dict[str, Any]]:
        if backend is None:
            return offline_corpus(run.data, chunk, g.corpus_pairs, g.corpus_questions, g.seed)
        pair_s, ref_s = sampling_for(run, PAIR_SAMPLING), sampling_for(run, REFUSAL_SAMPLING)
        return [llm_corpus(backend, t, g.corpus_pairs, g.corpus_questions, pair_s, ref_s)
                for t in chunk]  # fmt: skip

    rows = run_chunked(targets, [t.subject for t in targets], work, progress, 1)
    out_dir = generated_path(run.dir, "rwku_corpus").with_suffix("")
    for name, file_rows in corpus_files(rows).items():
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


def ensure_generated(run: Any, kind: str, force: bool = False) -> list[dict[str, Any]]:
    """The run's generated rows of ``kind``: read, or generated now (always when ``force``)."""
    from .cache import CachedBackend

    path = generated_path(run.dir, kind)
    g = run.cfg.generate
    if kind == "rwku_corpus":
        _load_for_corpus(run)
    if path.is_file() and not force:
        rows = [row for _, row in json_lines(path)]
        if kind in ("relearn", "meow"):
            _check_items(rows, _forget_items(run)[1], path, kind)
    else:
        if g.backend == "offline" and run.cfg.benchmark.name != "synthkb":
            raise ObliviateError(
                f"no generated {kind} data in {path}; generate.backend=offline works for "
                f"benchmark synthkb only: run `{KINDS[kind]} CONFIG generate.backend=...` "
                "(accepted: hf, vllm, openai) or set generate.backend for this run"
            )
        t0 = time.perf_counter()
        backend = make_backend(run)
        rows = PIPELINES[kind](run, backend, Progress(path, resume=g.resume))
        stats: dict[str, Any] = {"kind": kind, "backend": g.backend,
                                 "model": backend.model if backend else "synthkb-templates",
                                 "rows": len(rows), "seconds": round(time.perf_counter() - t0, 3)}  # fmt: skip
        if isinstance(backend, CachedBackend):
            stats.update(requests=backend.misses, cache_hits=backend.hits)
        write_json(path.with_suffix(".json"), stats)
    run.data.extras.setdefault("generated", {})[kind] = rows
    return rows
