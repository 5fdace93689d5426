"""Stages and the run directory.

Layout of ``<run.out_dir>/<run.name>/``::

    config.yaml              the resolved config
    models/{base,target,retain,unlearned}/   save_pretrained (safetensors)
    models/<role>_lora/      a LoRA stage's adapter (merge=true; merge=false: models/<role>/ is it)
    localize/region.json     MemFlex localisation (`obliviate localize`, method memflex)
    stages/<stage>.json      fingerprint + timings of each finished stage
    logs/<stage>.jsonl       training logs (loss and its parts every log step)
    eval/<model>/<set>.jsonl per-item results
    eval/<model>/metrics.json
    eval/retain/retain_values.json  the retain model's per-item values other models compare to
    metrics.json             {"benchmark", "method", "models": {...}, "timings": {...}, ...}
    report.md

A stage whose fingerprint (its config, its inputs' fingerprints and a content hash of the
benchmark data it reads, :meth:`Run.data_hash`) matches a finished record is reused, not
recomputed: a changed data file or generator output re-runs exactly the stages that read it.
Code is not fingerprinted. Every file is written atomically.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from .benchmarks import BENCHMARKS, load_benchmark
from .config import Config, fingerprint, to_dict, to_yaml
from .errors import ObliviateError
from .formatting import Formatter
from .io import read_json, write_atomic, write_json, write_jsonl
from .methods import Context, get_method_class
from .models.loading import load_pretrained, save_pretrained
from .models.reference import make_reference
from .models.scope import is_adapter_dir, load_adapter_model, save_model, scope_model
from .models.tiny import build_tiny_model, train_tokenizer
from .records import BenchmarkData, content_hash
from .training import TrainResult, make_accelerator, train

MODEL_ROLES = ("target", "retain", "unlearned")
RETAIN_VALUES = "retain_values.json"  # eval/retain/: what other models' metrics compare against


# ---- the run -----------------------------------------------------------------------------
class Run:
    """A run directory plus the loaded benchmark and config; stages are methods."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        name = cfg.run.name or f"{cfg.benchmark.name}_{cfg.unlearn.method}"
        self.dir = Path(cfg.run.out_dir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        # where base/target/retain stages live: this run, or a shared earlier run
        self.shared = Path(cfg.run.base_run) if cfg.run.base_run else self.dir
        if cfg.run.base_run and not (self.shared / "stages").is_dir():
            raise ObliviateError(f"run.base_run={cfg.run.base_run!r} is not a run directory")
        write_atomic(self.dir / "config.yaml", to_yaml(cfg))
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self._data: BenchmarkData | None = None
        self._data_hashes: dict[str, str] = {}
        self._chat_backend: Any = None
        self.timings: dict[str, float] = {}

    # -- helpers
    @property
    def data(self) -> BenchmarkData:
        if self._data is None:
            t0 = time.perf_counter()
            self._data = load_benchmark(self.cfg.benchmark)
            self.timings["load_benchmark"] = round(time.perf_counter() - t0, 3)
        return self._data

    @property
    def data_loaded(self) -> bool:
        return self._data is not None

    def use_data(self, data: BenchmarkData) -> None:
        """Use ``data`` instead of loading the benchmark: a step that writes part of the
        benchmark itself (RWKU's generated forget corpus) loads it without that part."""
        self._data = data
        self._data_hashes.clear()

    def _home(self, stage_or_role: str) -> Path:
        """Run dir holding a stage or model: shared stages may live in ``run.base_run``."""
        own = ("unlearn", "eval_unlearned", "unlearned", "localize")
        return self.dir if stage_or_role in own else self.shared

    def model_dir(self, role: str) -> Path:
        return self._home(role) / "models" / role

    def eval_dir(self, role: str) -> Path:
        return self._home(role) / "eval" / role

    def _stage_path(self, stage: str) -> Path:
        return self._home(stage) / "stages" / f"{stage}.json"

    def _finished(self, stage: str, fp: str) -> dict[str, Any] | None:
        path = self._stage_path(stage)
        if not self.cfg.run.reuse or not path.is_file():
            return None
        record = read_json(path)
        return record if record.get("fingerprint") == fp else None

    def _finish(self, stage: str, fp: str, info: dict[str, Any]) -> None:
        write_json(self._stage_path(stage), {"fingerprint": fp, **info})

    def formatter(self, tokenizer) -> Formatter:
        return Formatter(tokenizer, self.cfg.model.template, self.cfg.model.max_length)

    def load(self, role: str, keep_adapter: bool = False):
        """Load a saved stage model (or the base model) with the Auto classes.

        A LoRA stage saved without ``merge`` is an adapter directory: base + adapter, merged
        in memory unless ``keep_adapter`` (a LoRA scope then continues that adapter).
        """
        path = self.model_dir(role) if role != "base" or self._is_tiny else None
        src = path if path is not None else self.cfg.model.name_or_path
        mcfg = self.cfg.model
        if path is not None and is_adapter_dir(path):
            model, tok = load_adapter_model(
                path, mcfg.dtype, mcfg.trust_remote_code, keep=keep_adapter
            )
        else:
            model, tok = load_pretrained(src, mcfg.dtype, mcfg.trust_remote_code)
        return model.to(self.device), tok

    def _base_src(self) -> str:
        """Where the base model comes from (recorded as the base of a fine-tune adapter)."""
        return str(self.model_dir("base")) if self._is_tiny else self.cfg.model.name_or_path

    @property
    def _is_tiny(self) -> bool:
        return self.cfg.model.name_or_path == "tiny"

    # -- fingerprints: a stage's config, its inputs' fingerprints and the data it reads
    def data_hash(self, part: str) -> str:
        """Content hash of the benchmark data a stage reads (computed once per part).

        ``tokenizer``: the texts the tiny model's tokenizer is trained on; ``target`` /
        ``retain``: the fine-tuning records; ``unlearn``: forget, retain, general records and
        the extras methods read; ``eval``: the evaluation sets.
        """
        if part not in self._data_hashes:
            d = self.data
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
            self._data_hashes[part] = content_hash(*pools[part])
        return self._data_hashes[part]

    def fp_base(self) -> str:
        """The model config (+ the tokenizer's texts for the tiny model). The benchmark config
        enters no fingerprint: what it selects enters through :meth:`data_hash`, so settings
        that change only the forget corpus (e.g. RWKU's ``corpus``) keep the fine-tuned models."""
        data = [self.data_hash("tokenizer")] if self._is_tiny else []
        return fingerprint("base", to_dict(self.cfg)["model"], self.cfg.run.seed, *data)

    def fp_finetune(self, role: str) -> str:
        ft = to_dict(self.cfg)["finetune"]
        ft.pop("retain_model", None)
        return fingerprint(
            "finetune", role, self.fp_base(), ft, self.cfg.run.seed, self.data_hash(role)
        )

    def fp_unlearn(self) -> str:
        from .generate.store import generated_fingerprint

        kind = get_method_class(self.cfg.unlearn.method).needs_generated
        return fingerprint(
            "unlearn", self.fp_finetune("target"), to_dict(self.cfg)["unlearn"], self.cfg.run.seed,
            self.data_hash("unlearn"), *generated_fingerprint(self.dir, kind),
        )  # fmt: skip

    def fp_model(self, role: str) -> str:
        return self.fp_unlearn() if role == "unlearned" else self.fp_finetune(role)

    # -- stages
    def stage_base(self) -> str:
        """Build the tiny base model + tokenizer (trained on the benchmark's text)."""
        fp = self.fp_base()
        if not self._is_tiny or self._finished("base", fp):
            return fp
        t0 = time.perf_counter()
        tok = train_tokenizer(self.data.tokenizer_texts(), self.cfg.model.tokenizer_vocab)
        model = build_tiny_model(tok, self.cfg.model.tiny_preset, seed=self.cfg.run.seed)
        save_pretrained(model, tok, self.model_dir("base"))
        self._finish("base", fp, {"seconds": round(time.perf_counter() - t0, 3)})
        return fp

    def stage_finetune(self, role: str = "target") -> dict[str, Any]:
        """Fine-tune the target model (forget + retain) or the retain model (retain only)."""
        fp = self.fp_finetune(role)
        done = self._finished(f"finetune_{role}", fp)
        if done:
            return done
        self.stage_base()
        model, tok = self.load("base")
        if not self.cfg.finetune.enabled:
            if role == "retain":
                raise ObliviateError(
                    "finetune.enabled=false leaves no retain model: set finetune.retain_model=false "
                    "and drop 'retain' from eval.models, or give a retain model"
                )
            save_pretrained(model, tok, self.model_dir(role))
            info = {"training": {"steps": 0}, "seconds": 0.0}
            self._finish(f"finetune_{role}", fp, info)
            return info
        fmt = self.formatter(tok)
        records = self.data.finetune if role == "target" else self.data.finetune_retain
        encoded = [fmt.encode_record(r) for r in records]
        model = scope_model(
            model, self.cfg.finetune, "finetune", self.cfg.run.seed, self._base_src()
        ).model

        def sft(m, batch):
            from .methods.base import forward_logits
            from .methods.losses import sequence_nll

            fb = batch["forget"]
            loss = sequence_nll(forward_logits(m, fb), fb["labels"])
            return loss, {}

        log = self._fresh_log(f"finetune_{role}")
        result = train(
            model, sft, encoded, self.cfg.finetune, fmt.pad_id, self.cfg.run.seed,
            log_path=log, desc=f"finetune {role}",
        )  # fmt: skip
        save_model(model, tok, self.model_dir(role), self.cfg.finetune.merge)
        info = {"training": result.summary(), "seconds": result.seconds}
        self._finish(f"finetune_{role}", fp, info)
        return info

    def stage_unlearn(self) -> dict[str, Any]:
        """Unlearn the target model with the configured method and scope."""
        kind = get_method_class(self.cfg.unlearn.method).needs_generated
        if kind:  # generated training data first: its hash is part of the fingerprint
            self.stage_generate(kind)
        fp = self.fp_unlearn()
        done = self._finished("unlearn", fp)
        if done:
            return done
        self.stage_finetune("target")
        ucfg = self.cfg.unlearn
        method_cls, params = get_method_class(ucfg.method), dict(ucfg.params)
        if method_cls.needs_region and not params.get("region_file"):
            params["region_file"] = str(self.stage_localize())
        method = method_cls(params)
        model, tok = self.load("target", keep_adapter=ucfg.scope == "lora")
        fmt = self.formatter(tok)
        t0 = time.perf_counter()
        forget = method.build_forget(self.data.forget, fmt, self.data)
        retain = None
        if method.uses_retain():
            retain = method.build_retain(self.data.retain, fmt, self.data)
            if not retain:
                raise ObliviateError(
                    f"method {ucfg.method!r} needs retain data; benchmark "
                    f"{self.cfg.benchmark.name!r} has none (set unlearn.params.retain_loss=none)"
                )
        # the scope goes before prepare: a method may narrow it (rmu, memflex)
        scoped = scope_model(
            model, ucfg, "unlearn", self.cfg.run.seed, str(self.model_dir("target"))
        )
        model = scoped.model
        # LoRA: the adapter-disabled base (or adapter snapshot), never a second copy (SPEC 3.0)
        reference = make_reference(scoped) if method.needs_reference_model() else None
        ctx = Context(fmt, forget, retain or [], reference, device=self.device,
                      batch_size=self.cfg.eval.batch_size, data=self.data,
                      seed=self.cfg.run.seed, load_model=lambda r: self.load(r)[0])  # fmt: skip
        method.prepare(model, ctx)
        prepare_s = time.perf_counter() - t0
        if not method.trains:
            save_model(model, tok, self.model_dir("unlearned"), ucfg.merge)
            info = {"method": ucfg.method, "prepare_seconds": round(prepare_s, 3),
                    "seconds": prepare_s, "training": {"steps": 0, "trainable_params": 0}}  # fmt: skip
            self._finish("unlearn", fp, info)
            return info
        acc = make_accelerator(ucfg.grad_accum)

        def loss_fn(m, batch):
            return method.loss(m, batch, ctx)

        def after_step(step: int, parts: dict[str, float]) -> None:
            ctx.step = step
            method.after_step(ctx, parts)

        result: TrainResult = train(
            model, loss_fn, forget, ucfg, fmt.pad_id, self.cfg.run.seed, retain=retain,
            log_path=self._fresh_log("unlearn"), desc=f"unlearn {ucfg.method}",
            after_step=after_step, before_step=lambda m: method.before_step(m, ctx),
            accelerator=acc,
        )  # fmt: skip
        save_model(acc.unwrap_model(model), tok, self.model_dir("unlearned"), ucfg.merge)
        info = {
            "method": ucfg.method,
            "training": result.summary(),
            "reference": getattr(reference, "kind", "none"),
            "prepare_seconds": round(prepare_s, 3),
            "seconds": result.seconds + prepare_s,
        }
        self._finish("unlearn", fp, info)
        return info

    def stage_localize(self) -> Path:
        """MemFlex localisation (SPEC 4.1) of the target model under the unlearn scope.

        Writes ``localize/region.json`` (the selected tensor names plus every candidate's cosine
        and gradient magnitude); thresholds come from ``unlearn.params`` (e.g. ``sim_thresh``).
        """
        from .methods.localize import LocalizeParams, localize

        ucfg = self.cfg.unlearn
        lp = LocalizeParams.from_params(dict(ucfg.params))
        scope_keys = {k: v for k, v in to_dict(self.cfg)["unlearn"].items()
                      if k in ("scope", "layers", "region_file") or k.startswith("lora_")}  # fmt: skip
        fp = fingerprint("localize", self.fp_finetune("target"), scope_keys, lp, self.cfg.run.seed)
        path = self.dir / "localize" / "region.json"
        if self._finished("localize", fp) and path.is_file():
            return path
        self.stage_finetune("target")
        t0 = time.perf_counter()
        model, tok = self.load("target", keep_adapter=ucfg.scope == "lora")
        model = scope_model(
            model, ucfg, "unlearn", self.cfg.run.seed, str(self.model_dir("target"))
        ).model
        fmt = self.formatter(tok)
        forget = [fmt.encode_record(r) for r in self.data.forget]
        retain = [fmt.encode_record(r) for r in self.data.retain]
        if not retain:
            raise ObliviateError(
                f"localisation needs retain data; benchmark {self.cfg.benchmark.name!r} has none"
            )
        region = localize(model, forget, retain, fmt, lp, self.device, self.cfg.eval.batch_size)
        write_json(path, region.to_json())
        seconds = round(time.perf_counter() - t0, 3)
        self._finish("localize", fp, {"seconds": seconds, "selected": len(region.names),
                                      "candidates": len(region.stats)})  # fmt: skip
        return path

    def stage_generate(self, kind: str, force: bool = False) -> list[dict[str, Any]]:
        """Generated training data (SPEC 5) in ``generated/<kind>.jsonl``: read, or made now."""
        from .generate.store import ensure_generated

        return ensure_generated(self, kind, force=force)

    def _fresh_log(self, stage: str) -> Path:
        path = self.dir / "logs" / f"{stage}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        return path

    def ensure_model(self, role: str) -> None:
        if role == "unlearned":
            self.stage_unlearn()
        elif role in ("target", "retain"):
            self.stage_finetune(role)
        else:
            raise ObliviateError(
                f"eval.models: {role!r} unknown; accepted: {', '.join(MODEL_ROLES)}"
            )

    def stage_eval(self, roles: list[str] | None = None) -> dict[str, Any]:
        """Evaluate each model on the suite; forget quality uses the retain model's values."""
        roles = roles or list(self.cfg.eval.models)
        ecfg = to_dict(self.cfg)["eval"]
        if self.cfg.eval.kfr_krr.entity_extractor == "llm":  # the LLM that extracts entities
            ecfg["generate"] = to_dict(self.cfg)["generate"]
        # the retain model goes first: every other model's forget quality needs its values
        needs_retain = self.cfg.finetune.retain_model
        order = sorted(set(roles) | ({"retain"} if needs_retain else set()),
                       key=lambda r: (r != "retain", MODEL_ROLES.index(r)))  # fmt: skip
        per_model: dict[str, dict[str, Any]] = {}
        # the retain model's values other models' metrics compare against (retain_values.json):
        # per-item forget truth ratios (forget quality), per-item NLL (Reference MIA), its MIA
        # AUC (privleak). Suites without ``retain_values`` take the forget truth ratios alone.
        retain_vals: dict[str, Any] | None = None
        external_tr = self.cfg.eval.retain_tr_file
        if external_tr:  # the retain model's forget truth ratios from a file or another run
            from .eval.suites.tofu import read_retain_truth_ratios

            # a run directory (its RETAIN_VALUES), a retain_values.json, a list, an OU eval log
            retain_vals = {"forget/truth_ratio": read_retain_truth_ratios(external_tr)}
        for role in order:
            self.ensure_model(role)
            values: dict[str, Any] | None = None
            fp = fingerprint("eval", self.fp_model(role), ecfg, self.data_hash("eval"))
            out_dir = self.eval_dir(role)
            done = self._finished(f"eval_{role}", fp)
            if done:
                if role == "retain" and (out_dir / RETAIN_VALUES).is_file():
                    values = read_json(out_dir / RETAIN_VALUES)
                metrics = read_json(out_dir / "metrics.json")
                self.timings[f"eval_{role}"] = done.get("seconds", 0.0)
            else:
                t0 = time.perf_counter()
                model, tok = self.load(role)
                results, metrics, values = self.evaluate_model(role, model, tok, retain_vals)
                if role == "retain":
                    write_json(out_dir / RETAIN_VALUES, values)
                for name, res in results.items():
                    write_jsonl(out_dir / f"{name}.jsonl", res.items)
                write_json(out_dir / "metrics.json", metrics)
                seconds = round(time.perf_counter() - t0, 3)
                self.timings[f"eval_{role}"] = seconds
                self._finish(f"eval_{role}", fp, {"seconds": seconds})
                del model
            if role == "retain":
                retain_vals = {**(values or {}), **(retain_vals or {})}
            if role in roles:
                per_model[role] = metrics
        return {role: per_model[role] for role in MODEL_ROLES if role in per_model}

    def evaluate_model(
        self,
        role: str,
        model: torch.nn.Module,
        tok: Any,
        retain_vals: dict[str, Any] | None,
        eval_cfg: Any = None,
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
        """One model through the suite: (per-set results, metrics, the retain model's values
        when ``role`` is ``retain``, else None). ``eval_cfg`` replaces ``cfg.eval``."""
        from .eval.generation import make_generator
        from .eval.suites import get_suite
        from .eval.suites.base import EvalContext

        ec = eval_cfg or self.cfg.eval
        suite = get_suite(BENCHMARKS[self.cfg.benchmark.name].suite)
        ctx = EvalContext(
            model, tok, self.formatter(tok), ec.batch_size, ec.max_new_tokens, self.device,
            config=ec,
            generator=make_generator(ec.backend, model, tok, ec.batch_size, self.device,
                                     str(self.model_dir(role)), self.cfg.model.dtype),
            load_model=self._load_any, role=role, chat=self._chat,
        )  # fmt: skip
        if role == "unlearned":  # in-context methods prompt the unlearned model
            method = get_method_class(self.cfg.unlearn.method)(dict(self.cfg.unlearn.params))
            method.prepare_eval(self.data)
            ctx.prefix = method.eval_prefix
        results = suite.evaluate(self.data, ctx, list(ec.sets) or None)
        full_values = hasattr(suite, "retain_values")
        values: dict[str, Any] | None = None
        if role == "retain":
            values = (suite.retain_values(results) if full_values else
                      {"forget/truth_ratio": [r["truth_ratio"] for r in results["forget"].items]}
                      if "forget" in results else {})  # fmt: skip
        against = values if role == "retain" else retain_vals
        metrics = suite.aggregate(
            results, against if full_values else (against or {}).get("forget/truth_ratio")
        )
        if ec.lm_eval.tasks:
            from .eval.lmeval import run_lm_eval

            metrics |= run_lm_eval(model, tok, ec.lm_eval, self.device)
        return results, metrics, values

    def _chat(self, prompt: str) -> str:
        """One greedy user turn through the ``generate`` backend (built once, request-cached)."""
        if self._chat_backend is None:
            from .generate.store import make_backend

            self._chat_backend = make_backend(self)
            if self._chat_backend is None:
                raise ObliviateError(
                    "an LLM is needed (eval.kfr_krr.entity_extractor=llm) but "
                    "generate.backend=offline; accepted: hf, vllm, openai"
                )
        messages = [{"role": "user", "content": prompt}]
        return self._chat_backend.chat(messages, temperature=0.0, max_tokens=256)[0]

    def _load_any(self, name: str):
        """A run role's model (target, retain, unlearned) or a hub id / path, on the device."""
        if name in MODEL_ROLES:
            return self.load(name)
        model, tok = load_pretrained(name, self.cfg.model.dtype, self.cfg.model.trust_remote_code)
        return model.to(self.device), tok

    def run_all(self) -> dict[str, Any]:
        """finetune target → finetune retain → unlearn → eval all → metrics.json → report."""
        t0 = time.perf_counter()
        stage_info = {"finetune_target": self.stage_finetune("target")}
        if self.cfg.finetune.retain_model:
            stage_info["finetune_retain"] = self.stage_finetune("retain")
        stage_info["unlearn"] = self.stage_unlearn()
        models = self.stage_eval()
        return self.write_metrics(models, stage_info, time.perf_counter() - t0)

    def write_metrics(
        self, models: dict[str, Any], stage_info: dict[str, Any], total: float
    ) -> dict[str, Any]:
        timings = {k: round(v.get("seconds", 0.0), 3) for k, v in stage_info.items()}
        timings.update(self.timings)
        timings["total_this_invocation"] = round(total, 3)
        metrics = {
            "benchmark": self.cfg.benchmark.name,
            "method": self.cfg.unlearn.method,
            "models": models,
            "timings": timings,
            "training": {k: v["training"] for k, v in stage_info.items() if "training" in v},
        }
        write_json(self.dir / "metrics.json", metrics)
        from .report.tables import write_report

        write_report(self.dir)
        return metrics
