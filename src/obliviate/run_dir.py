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
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from . import distributed
from .benchmarks import load_benchmark
from .config import Config, fingerprint, to_dict, to_yaml
from .errors import ObliviateError
from .generate.store import generated_fingerprint
from .io import read_json, write_atomic, write_json
from .methods import get_method_class
from .methods.base import training_protocol
from .methods.localize import LocalizeParams
from .records import BenchmarkData, content_hash
from .train_memory import resolve_mixed_precision

MODEL_ROLES = ("target", "retain", "unlearned")
RETAIN_VALUES = "retain_values.json"  # eval/retain/: what other models' metrics compare against
OWN = ("unlearn", "eval_unlearned", "unlearned", "localize")  # never taken from run.base_run


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
        distributed.on_main(self.dir.mkdir, parents=True, exist_ok=True)
        # where base/target/retain stages live: this run, or a shared earlier run
        self.shared = Path(cfg.run.base_run) if cfg.run.base_run else self.dir
        if cfg.run.base_run and not (self.shared / "stages").is_dir():
            raise ObliviateError(f"run.base_run={cfg.run.base_run!r} is not a run directory")
        distributed.on_main(write_atomic, self.dir / "config.yaml", to_yaml(cfg))
        self.timings: dict[str, float] = {}
        self.data = data or RunData(cfg.benchmark, self.timings)

    @property
    def is_tiny(self) -> bool:
        return self.cfg.model.name_or_path == "tiny"

    # -- paths
    def home(self, stage_or_role: str) -> Path:
        """Run dir holding a stage or model: shared stages may live in ``run.base_run``."""
        return self.dir if stage_or_role in OWN else self.shared

    def model_dir(self, role: str) -> Path:
        return self.home(role) / "models" / role

    def eval_dir(self, role: str) -> Path:
        return self.home(role) / "eval" / role

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
        """The record of ``stage`` if it finished with fingerprint ``fp`` (and ``run.reuse``)."""
        record = self.record(stage) if self.cfg.run.reuse else None
        return record if record is not None and record.get("fingerprint") == fp else None

    def finish(self, stage: str, fp: str, info: dict[str, Any]) -> None:
        distributed.on_main(write_json, self.stage_path(stage), {"fingerprint": fp, **info})

    # -- fingerprints: a stage's config, its inputs' fingerprints and the data it reads
    def fp_base(self) -> str:
        """The model config (+ the tokenizer's texts for the tiny model). The benchmark config
        enters no fingerprint: what it selects enters through :meth:`RunData.hash`, so settings
        that change only the forget corpus (e.g. RWKU's ``corpus``) keep the fine-tuned models."""
        data = [self.data.hash("tokenizer")] if self.is_tiny else []
        model = to_dict(self.cfg)["model"]
        if not model.get("system_prompt"):  # keys added later, at values that change nothing,
            model.pop("system_prompt", None)  # keep earlier run dirs reusable
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
        kind = get_method_class(self.cfg.unlearn.method).needs_generated
        protocol = training_protocol(self.cfg)  # only where it changes training: {} keeps old fps
        return fingerprint(
            "unlearn", self.fp_finetune("target"), self._train_keys("unlearn"), self.cfg.run.seed,
            self.data.hash("unlearn"), *generated_fingerprint(self.dir, kind),
            *([protocol] if protocol else []),
        )  # fmt: skip

    def _train_keys(self, name: str) -> dict[str, Any]:
        """A training section as fingerprinted: ``gradient_checkpointing`` (memory only) never
        enters, ``on_nan`` only when not ``stop``; ``mixed_precision`` (resolved, ``auto`` → accelerate's) only when not ``no``."""
        keys = to_dict(self.cfg)[name]
        keys.pop("gradient_checkpointing", None)
        if keys.get("on_nan") == "stop":  # the default changes nothing a finished stage made
            keys.pop("on_nan")
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
        if ecfg.get("protocol") == "fixed":  # fixed evaluates as obliviate did before the
            ecfg.pop("protocol")  # protocols existed: earlier run directories stay reusable
        if self.cfg.eval.kfr_krr.entity_extractor == "llm":  # the LLM that extracts entities
            ecfg["generate"] = to_dict(self.cfg)["generate"]
        return fingerprint("eval", self.fp_model(role), ecfg, self.data.hash("eval"))
