"""The run directory: its layout, its stage records and the fingerprints that decide reuse.

Layout of ``<run.out_dir>/<run.name>/``::

    config.yaml              the resolved config
    models/{base,target,retain,unlearned}/   save_pretrained (safetensors)
    models/<role>_lora/      a LoRA stage's adapter (merge=true; merge=false: models/<role>/ is it)
    localize/region.json     MemFlex localisation (`obliviate localize`, method memflex)
    stages/<stage>.json      fingerprint + timings of each finished stage
    logs/<stage>.jsonl       training logs (loss and its parts every log step)
    generated/<kind>.jsonl   generated training data (:mod:`obliviate.generate.store`)
    eval/<model>/<set>.jsonl per-item results
    eval/<model>/metrics.json
    eval/retain/retain_values.json  the retain model's per-item values other models compare to
    metrics.json             {"benchmark", "method", "models": {...}, "timings": {...}, ...}
    report.md

``run.base_run``: the base/target/retain stages (models, records, eval) live in that earlier
run; the unlearned model, its eval and the localisation are always this run's own.

A stage whose fingerprint (its config, its inputs' fingerprints and a content hash of the
benchmark data it reads, :meth:`RunData.hash`) matches a finished record is reused, not
recomputed: a changed data file or generator output re-runs exactly the stages that read it.
Code is not fingerprinted. Every file is written atomically, by rank 0 alone under several
processes (the others wait at a barrier, then read what it wrote: every rank takes the same
reuse decisions).

Trust (issue 14): a stage record is written last and holds size, mtime and a fast content hash
(:func:`obliviate.io.fast_hash`) of every file the stage produced (``artifacts``); reuse checks
them, so a record never vouches for files another (killed) invocation replaced or removed: such a
stage runs again, with a one-line note. A stage deletes its old record before it writes. The run
directory holds ``.lock`` (the pid of the invocation using it): a second invocation into it is
refused while that process lives; a dead one's lock is taken over. ``run.base_run`` is read-only:
a shared stage that does not match there is an error naming the settings that differ, and eval
of a shared model under other eval settings is written into this run's own ``eval/``.
``config.yaml`` describes ``metrics.json``: a changed config moves the old pair to ``previous/``.
"""

from __future__ import annotations

import atexit
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from . import distributed
from .benchmarks import load_benchmark
from .config import Config, fingerprint, to_dict, to_yaml
from .errors import ObliviateError
from .formatting import chat_settings
from .generate.store import generated_fingerprint
from .io import (
    artifact_entries,
    artifact_mismatch,
    crash_point,
    read_json,
    write_atomic,
    write_json,
)
from .methods import get_method_class
from .methods.base import training_protocol
from .methods.localize import LocalizeParams
from .records import BenchmarkData, content_hash
from .train_memory import resolve_mixed_precision
from .training import Checkpointing

MODEL_ROLES = ("target", "retain", "unlearned")
RETAIN_VALUES = "retain_values.json"  # eval/retain/: what other models' metrics compare against
OWN = ("unlearn", "eval_unlearned", "unlearned", "localize")  # never taken from run.base_run
LOCK = ".lock"
_HELD: set[Path] = set()  # lock files this process holds (released at exit)


def note(text: str) -> None:
    """One line on stderr (what the CLI's notes look like)."""
    print(f"obliviate: note: {text}", file=sys.stderr)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def acquire_lock(run_dir: Path) -> None:
    """Take ``<run_dir>/.lock`` (``pid host``) for this process: refused with a one-line error
    while another live process on this host holds it; a lock left by a dead process (a kill -9)
    is taken over. Re-entrant within one process; released at exit (:func:`release_lock`)."""
    path = Path(run_dir) / LOCK
    me = f"{os.getpid()} {socket.gethostname()}\n"
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid_s, _, host = path.read_text().strip().partition(" ")
                pid = int(pid_s)
            except (OSError, ValueError):  # half-written or vanished: its writer died or left
                path.unlink(missing_ok=True)
                continue
            if pid == os.getpid() and host == socket.gethostname():
                _HELD.add(path)
                return
            if host == socket.gethostname() and not _alive(pid):
                note(f"{path}: taking over the lock of pid {pid}, which no longer runs")
                path.unlink(missing_ok=True)
                continue
            raise ObliviateError(
                f"run directory {run_dir} is in use by pid {pid} on {host or 'this host'} "
                f"(lock file {path}); wait for it to finish or choose another run.name"
            ) from None
        with os.fdopen(fd, "w") as fh:
            fh.write(me)
        _HELD.add(path)
        return
    raise ObliviateError(f"run directory {run_dir}: could not take the lock file {path}")


def release_lock(run_dir: Path | None = None) -> None:
    """Release this process's lock of ``run_dir`` (every lock it holds when None)."""
    for path in list(_HELD):
        if run_dir is not None and path != Path(run_dir) / LOCK:
            continue
        _HELD.discard(path)
        try:
            if path.read_text().split(" ")[0] == str(os.getpid()):
                path.unlink()
        except (OSError, ValueError):
            pass


atexit.register(release_lock)


def flat(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists and scalars are leaves)."""
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for k, v in data.items():
        out.update(flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def differing_keys(there: dict[str, Any], here: dict[str, Any]) -> list[str]:
    """``key: <there> there, <here> here`` for every flat key whose value differs."""
    keys = sorted(set(there) | set(here))
    return [f"{k}: {there.get(k)!r} there, {here.get(k)!r} here" for k in keys
            if there.get(k) != here.get(k)]  # fmt: skip


class RunData:
    """The benchmark a run reads, loaded on first use, and content hashes of its parts."""

    def __init__(self, bcfg: Any, timings: dict[str, float] | None = None):
        self.bcfg = bcfg
        self.timings = timings if timings is not None else {}
        self._data: BenchmarkData | None = None
        self._hashes: dict[str, str] = {}

    def get(self) -> BenchmarkData:
        if self._data is None:
            t0 = time.perf_counter()
            self._data = load_benchmark(self.bcfg)
            self.timings["load_benchmark"] = round(time.perf_counter() - t0, 3)
        return self._data

    @property
    def loaded(self) -> bool:
        return self._data is not None

    def use(self, data: BenchmarkData) -> None:
        """Use ``data`` instead of loading the benchmark: a step that writes part of the
        benchmark itself (RWKU's generated forget corpus) loads it without that part."""
        self._data = data
        self._hashes.clear()

    def hash(self, part: str) -> str:
        """Content hash of the benchmark data a stage reads (computed once per part).

        ``tokenizer``: the texts the tiny model's tokenizer is trained on; ``target`` /
        ``retain``: the fine-tuning records; ``unlearn``: forget, retain, general records and
        the extras methods read; ``eval``: the evaluation sets.
        """
        if part not in self._hashes:
            d = self.get()
            pools: dict[str, list[Any]] = {
                "tokenizer": [d.tokenizer_texts()],
                "target": [d.finetune],
                "retain": [d.finetune_retain],
                # generated rows (extras["generated"]) have a file hash of their own
                "unlearn": [
                    d.forget,
                    d.retain,
                    d.general,
                    sorted((k, v) for k, v in d.extras.items() if k != "generated"),
                ],
                "eval": [[(k, s.records) for k, s in sorted(d.eval_sets.items())]],
            }
            self._hashes[part] = content_hash(*pools[part])
        return self._hashes[part]


class RunDir:
    """One run directory of ``cfg``: paths, stage records and stage fingerprints.

    Creating it makes the directory and writes ``config.yaml``; ``timings`` collects the
    seconds of this invocation's steps (benchmark loading, evaluations).
    """

    def __init__(self, cfg: Config, data: RunData | None = None):
        distributed.process_state()  # the process group first: every write below is rank 0's
        self.cfg = cfg
        name = cfg.run.name or f"{cfg.benchmark.name}_{cfg.unlearn.method}"
        self.dir = Path(cfg.run.out_dir) / name
        # where base/target/retain stages live: this run, or a shared earlier run
        self.shared = Path(cfg.run.base_run) if cfg.run.base_run else self.dir
        if cfg.run.base_run and not (self.shared / "stages").is_dir():
            raise ObliviateError(f"run.base_run={cfg.run.base_run!r} is not a run directory")
        if cfg.run.base_run and self.shared.resolve() == self.dir.resolve():
            raise ObliviateError(
                f"run.base_run={cfg.run.base_run!r} is this run's own directory; accepted: "
                "another finished run directory"
            )
        distributed.on_main(self._open)
        self.timings: dict[str, float] = {}
        self.local_eval: set[str] = set()  # shared roles evaluated into this run's own eval/
        self.data = data or RunData(cfg.benchmark, self.timings)

    def _open(self) -> None:
        """Rank 0: make the directory, take its lock, write ``config.yaml`` (a changed config
        first moves the old ``config.yaml`` / ``metrics.json`` / ``report.md`` to ``previous/``,
        so metrics are never shown under a config that did not make them)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        acquire_lock(self.dir)
        text = to_yaml(self.cfg)
        old = self.dir / "config.yaml"
        if old.is_file() and old.read_text() != text:
            moved = [n for n in ("metrics.json", "report.md") if (self.dir / n).is_file()]
            if moved:
                prev = self.dir / "previous"
                prev.mkdir(exist_ok=True)
                for n in ("config.yaml", *moved):
                    os.replace(self.dir / n, prev / n)
                note(f"{self.dir}: the config changed; the earlier {', '.join(moved)} and its "
                     f"config.yaml are in {prev}")  # fmt: skip
        write_atomic(old, text)

    def close(self) -> None:
        """Release the run directory's lock (also done at process exit)."""
        release_lock(self.dir)

    @property
    def is_tiny(self) -> bool:
        return self.cfg.model.name_or_path == "tiny"

    # -- paths
    def home(self, stage_or_role: str) -> Path:
        """Run dir holding a stage or model: shared stages may live in ``run.base_run``."""
        if stage_or_role in OWN or stage_or_role in self.local_eval:
            return self.dir
        return self.shared

    def model_dir(self, role: str) -> Path:
        return self.home(role) / "models" / role

    def eval_dir(self, role: str) -> Path:
        return self.home(f"eval_{role}") / "eval" / role

    def outputs(self, stage: str) -> list[Path]:
        """The files and directories ``stage`` produces (what its record's artifacts cover)."""
        if stage == "localize":
            return [self.region_path()]
        if stage.startswith("eval_"):
            return [self.eval_dir(stage[5:])]
        role = {"base": "base", "unlearn": "unlearned"}.get(stage, stage.removeprefix("finetune_"))
        model = self.model_dir(role)
        return [p for p in (model, model.with_name(model.name + "_lora")) if p.exists()]

    def stage_path(self, stage: str) -> Path:
        return self.home(stage) / "stages" / f"{stage}.json"

    def log_path(self, stage: str) -> Path:
        return self.dir / "logs" / f"{stage}.jsonl"

    def region_path(self) -> Path:
        return self.dir / "localize" / "region.json"

    # -- stage records
    def record(self, stage: str) -> dict[str, Any] | None:
        """The finished record of ``stage`` whatever its fingerprint; None if there is none."""
        path = self.stage_path(stage)
        return read_json(path) if path.is_file() else None

    def finished(self, stage: str, fp: str) -> dict[str, Any] | None:
        """The record of ``stage`` if it finished with fingerprint ``fp`` (and ``run.reuse``) and
        the files it produced are still the ones it recorded (size, mtime, else content hash);
        a record whose files changed or vanished is not reused (one note on stderr)."""
        record = self.record(stage) if self.cfg.run.reuse else None
        if record is None or record.get("fingerprint") != fp:
            return None
        why = artifact_mismatch(self.home(stage), record.get("artifacts") or {})
        if why is not None:
            if distributed.is_main() and self.home(stage) == self.dir:
                note(f"stage {stage}: {why} since it finished; running it again")
            return None
        return record

    def begin(self, stage: str, settings: dict[str, Any] | None = None) -> None:
        """A stage starts its work: refused when its home is ``run.base_run`` (read-only; the
        error names the settings that differ from those that built it), else its old record is
        deleted first, so a crash while it writes leaves no record vouching for its files."""
        if self.home(stage) != self.dir:
            raise ObliviateError(self._base_run_mismatch(stage, settings))
        distributed.on_main(self.stage_path(stage).unlink, missing_ok=True)

    def _base_run_mismatch(self, stage: str, settings: dict[str, Any] | None) -> str:
        record = self.record(stage)
        where = f"run.base_run={self.cfg.run.base_run}"
        if record is None:
            return (f"{where} has no finished {stage} stage, and run.base_run is read-only: "
                    "finish that run first, or drop run.base_run")  # fmt: skip
        diff: list[str] = []
        if settings is not None and record.get("settings"):
            diff = differing_keys(record["settings"], settings)
        elif settings is not None and (self.shared / "config.yaml").is_file():
            import yaml

            there = flat(yaml.safe_load((self.shared / "config.yaml").read_text()) or {})
            diff = differing_keys({k: there.get(k) for k in settings}, settings)
        if not diff and record.get("fingerprint") == self.fp_of(stage):
            diff = ["its files changed since it finished"]
        shown = "; ".join(diff[:6]) + (f"; and {len(diff) - 6} more" if len(diff) > 6 else "")
        shown = shown or "the benchmark data differ"
        return (f"{where}: its {stage} stage was built with other settings ({shown}); "
                "run.base_run is read-only: use these settings, rerun that run with them, or "
                "drop run.base_run")  # fmt: skip

    def fp_of(self, stage: str) -> str:
        if stage == "base":
            return self.fp_base()
        if stage.startswith("finetune_"):
            return self.fp_finetune(stage.removeprefix("finetune_"))
        if stage.startswith("eval_"):
            return self.fp_eval(stage[5:])
        return self.fp_unlearn() if stage == "unlearn" else self.fp_localize()

    def finish(self, stage: str, fp: str, info: dict[str, Any],
               settings: dict[str, Any] | None = None) -> None:  # fmt: skip
        """Write the record of ``stage``, last: its fingerprint, ``info``, the settings that
        built it (named by a ``run.base_run`` mismatch) and its files' :func:`artifact_entries`."""
        distributed.on_main(self._finish, stage, fp, info, settings)

    def _finish(self, stage: str, fp: str, info: dict[str, Any], settings) -> None:
        crash_point("stage.before_record")
        record = {"fingerprint": fp, **info}
        if settings is not None:
            record["settings"] = settings
        artifacts = artifact_entries(self.home(stage), self.outputs(stage))
        if artifacts:
            record["artifacts"] = artifacts
        write_json(self.stage_path(stage), record)

    def checkpointing(self, stage: str, fp: str) -> Checkpointing:
        """Resumable checkpoints of a training stage in ``checkpoints/<stage>/`` (the section's
        ``checkpoint_every``; always on SIGTERM / SIGINT)."""
        section = "unlearn" if stage == "unlearn" else "finetune"
        every = getattr(self.cfg, section).checkpoint_every
        return Checkpointing(self.dir / "checkpoints" / stage, fp, every)

    def use_eval(self, role: str) -> None:
        """Evaluate ``role`` (a shared model) into this run's own ``eval/`` (read-only
        ``run.base_run`` whose eval of it does not match this run's eval settings)."""
        if self.shared != self.dir and role not in OWN:
            self.local_eval.add(f"eval_{role}")

    # -- the settings a shared stage was built with (named when run.base_run differs)
    def settings(self, stage: str) -> dict[str, Any]:
        """Flat ``key -> value`` of what :meth:`fp_base` / :meth:`fp_finetune` fingerprint."""
        out = {f"model.{k}": v for k, v in to_dict(self.cfg)["model"].items()}
        out["run.seed"] = self.cfg.run.seed
        if self.is_tiny:
            out["data.tokenizer_texts"] = self.data.hash("tokenizer")
        if stage.startswith("finetune_"):
            role = stage.removeprefix("finetune_")
            out.update({f"finetune.{k}": v for k, v in flat(self._train_keys("finetune")).items()
                        if k != "retain_model"})  # fmt: skip
            out[f"data.{role}"] = self.data.hash(role)
        return out

    # -- fingerprints: a stage's config, its inputs' fingerprints and the data it reads
    def fp_base(self) -> str:
        """The model config (+ the tokenizer's texts for the tiny model). The benchmark config
        enters no fingerprint: what it selects enters through :meth:`RunData.hash`, so settings
        that change only the forget corpus (e.g. RWKU's ``corpus``) keep the fine-tuned models."""
        data = [self.data.hash("tokenizer")] if self.is_tiny else []
        model = to_dict(self.cfg)["model"]
        if self.cfg.eval.protocol == "ou" and self.cfg.benchmark.name == "tofu":
            model["system_prompt"], model["template_args"] = chat_settings(self.cfg)
        for key in ("system_prompt", "template_args"):  # keys added later, at values that
            if not model.get(key):  # change nothing, keep earlier run dirs reusable
                model.pop(key, None)
        if self.is_tiny and model.get("template") == "auto":
            model["template"] = "qa-tags"  # the tiny tokenizer has no chat template
        return fingerprint("base", model, self.cfg.run.seed, *data)

    def fp_finetune(self, role: str) -> str:
        ft = self._train_keys("finetune")
        ft.pop("retain_model", None)
        kud = self._kud_protocol()  # KnowUnDo's fine-tune token set under paper / ou
        return fingerprint(
            "finetune", role, self.fp_base(), ft, self.cfg.run.seed, self.data.hash(role),
            *([kud] if kud else []),
        )  # fmt: skip

    def _kud_protocol(self) -> dict[str, str]:
        """``{"protocol": ...}`` when ``kud-nn`` gets KnowUnDo's token set (paper / ou); ``{}``
        under fixed, which encodes as obliviate did before the protocols existed."""
        if self.cfg.model.template == "kud-nn" and self.cfg.eval.protocol != "fixed":
            return {"protocol": self.cfg.eval.protocol}
        return {}

    def fp_unlearn(self) -> str:
        """The target, the unlearn section, the seed, the data, generated rows, and the batch of
        the method's reference scoring in ``prepare`` (``eval.batch_size``: NPO's cached
        reference log-probs are computed in batches of it; padding moves them in the last bits)."""
        kind = get_method_class(self.cfg.unlearn.method).needs_generated
        protocol = training_protocol(self.cfg)  # only where it changes training: {} keeps old fps
        # at the default batch (32) the fingerprint is the one run dirs made before it entered
        ref = (
            []
            if self.cfg.eval.batch_size == 32
            else [{"reference_batch_size": self.cfg.eval.batch_size}]
        )
        return fingerprint(
            "unlearn", self.fp_finetune("target"), self._train_keys("unlearn"), self.cfg.run.seed,
            self.data.hash("unlearn"), *generated_fingerprint(self.dir, kind), *ref,
            *([protocol] if protocol else []),
        )  # fmt: skip

    def _train_keys(self, name: str) -> dict[str, Any]:
        """A training section as fingerprinted: ``gradient_checkpointing`` (memory only) never
        enters, ``on_nan`` only when not ``stop``, ``group_by_length`` only when on; ``mixed_precision`` (resolved, ``auto`` → accelerate's) only when not ``no``."""
        keys = to_dict(self.cfg)[name]
        keys.pop("gradient_checkpointing", None)
        keys.pop("checkpoint_every", None)  # when checkpoints are written: the same weights
        if keys.get("on_nan") == "stop":  # the default changes nothing a finished stage made
            keys.pop("on_nan")
        if keys.get("group_by_length") is False:  # the order before grouping existed: earlier
            keys.pop("group_by_length")  # run dirs' stages stay reusable under it
        mp = resolve_mixed_precision(keys.pop("mixed_precision", "no"))
        if mp != "no":
            keys["mixed_precision"] = mp
        return keys

    def fp_model(self, role: str) -> str:
        return self.fp_unlearn() if role == "unlearned" else self.fp_finetune(role)

    def fp_localize(self) -> str:
        """The target, the unlearn scope keys and the localisation thresholds."""
        lp = LocalizeParams.from_params(dict(self.cfg.unlearn.params))
        scope_keys = {k: v for k, v in to_dict(self.cfg)["unlearn"].items()
                      if k in ("scope", "layers", "region_file") or k.startswith("lora_")}  # fmt: skip
        kud = self._kud_protocol()
        return fingerprint(
            "localize", self.fp_finetune("target"), scope_keys, lp, self.cfg.run.seed,
            *([kud] if kud else []),
        )  # fmt: skip

    def fp_eval(self, role: str) -> str:
        """The model's fingerprint, the eval config (+ ``generate`` when an LLM extracts
        KFR/KRR entities) and the evaluation sets."""
        ecfg = {
            k: v for k, v in to_dict(self.cfg)["eval"].items() if not k.startswith("vllm_")
        }  # engine placement: the same generations
        ecfg.pop("attacks", None)  # attacks write attacks/, never eval/
        if ecfg.get("protocol") == "fixed":  # fixed evaluates as obliviate did before the
            ecfg.pop("protocol")  # protocols existed: earlier run directories stay reusable
        if self.cfg.eval.kfr_krr.entity_extractor == "llm":  # the LLM that extracts entities
            ecfg["generate"] = to_dict(self.cfg)["generate"]
        return fingerprint("eval", self.fp_model(role), ecfg, self.data.hash("eval"))
