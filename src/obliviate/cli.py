"""Command line: argument parsing only; every command calls into the pipeline.

obliviate run [CONFIG.yaml] [key=value ...]      fine-tune, unlearn, evaluate, report
obliviate finetune|unlearn|eval [CONFIG.yaml] [key=value ...]
obliviate report RUN_DIR [RUN_DIR ...] [--format md|csv|json|latex] [--metrics all|GLOB,...]
obliviate config [CONFIG.yaml] [key=value ...] [--keys]   the resolved config, or every key
obliviate push RUN_DIR --repo ID [--model unlearned] [--dry-run]   a model + card to the hub
obliviate localize [CONFIG.yaml] [key=value ...]  MemFlex region of the target -> localize/region.json
obliviate augment|invert|corpus [CONFIG.yaml] [key=value ...]  ReLearn / MEOW / RWKU data -> generated/
obliviate attack [CONFIG.yaml] [attack.kinds=[relearn,quantize,prompt,latent] ...]  robustness attacks -> attacks/
obliviate sweep scal|sust|epochs [CONFIG.yaml] [key=value ...] [--folds 1,2]  MUSE studies
obliviate list methods|benchmarks|metrics
obliviate bench methods --methods M[,M...]|all [--base-run DIR] [--config CFG] [key=value ...]
obliviate bench eval --run DIR [--model target] [--rounds 3]   cost of every metric vs the foundation
obliviate bench memory MODEL [--engine ddp|zero2|zero3|fsdp] [--world N] [--measure]  per-rank memory
obliviate bench throughput [--passes ...] [--steps N] [--batch B] [--seq T] [--threads K] [key=value ...]
obliviate data synth --out DIR [--people N] [--seed S]
"""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path

from .errors import Interrupted, ObliviateError

# Every command imports what it needs inside its function: ``obliviate --help``, ``list`` and
# ``config --keys`` never load the pipeline (torch, transformers); tests/test_startup.py checks.


def _split_config(args: list[str]) -> tuple[str | None, list[str]]:
    """The first argument is a config file unless it is a ``key=value`` override."""
    if args and "=" not in args[0]:
        return args[0], args[1:]
    return None, args


def _load(args: list[str]):
    from .config import load_config

    path, overrides = _split_config(args)
    return load_config(path, overrides)


def _open(args: list[str], check: bool = True):
    """The run directory of a config and its models; ``check``: the data's problems first
    (:func:`obliviate.checks.preflight`; not for commands that write part of the data)."""
    from .checks import preflight
    from .run_dir import RunDir
    from .run_models import RunModels

    rd = RunDir(_load(args))
    if check:
        preflight(rd)  # the data's problems before any model is built
    return rd, RunModels(rd)


def _dry_run(ns: argparse.Namespace) -> bool:
    """``--dry-run``: print the plan of the command (:func:`obliviate.config_keys.plan`)."""
    if not getattr(ns, "dry_run", False):
        return False
    from .config_keys import plan

    print(plan(_load(ns.args), ns.command))
    return True


def _after_stage(rd) -> None:
    """Model cards in the model directories a stage command saved (:mod:`.model_card`)."""
    from .model_card import write_cards

    write_cards(rd)


def cmd_run(ns: argparse.Namespace) -> int:
    if _dry_run(ns):
        return 0
    from .pipeline import run_all

    rd, models = _open(ns.args)
    metrics = run_all(rd, models)
    print((rd.dir / "report.md").read_text())
    print(f"run directory: {rd.dir}")
    return 0 if metrics else 1


def cmd_stage(ns: argparse.Namespace) -> int:
    if _dry_run(ns):
        return 0
    from .pipeline import recorded_stage_info, write_metrics
    from .stages import stage_eval, stage_finetune, stage_unlearn

    rd, models = _open(ns.args)
    cfg = rd.cfg
    if ns.command == "finetune":
        info = {"target": stage_finetune(rd, models, "target")}
        if cfg.finetune.retain_model:
            info["retain"] = stage_finetune(rd, models, "retain")
        for role, i in info.items():
            print(f"finetune {role}: {i['training']}")
    elif ns.command == "unlearn":
        print(f"unlearn {cfg.unlearn.method}: {stage_unlearn(rd, models)['training']}")
    if ns.command != "eval":
        _after_stage(rd)
    else:
        results = stage_eval(rd, models)
        write_metrics(rd, results, recorded_stage_info(rd), sum(rd.timings.values()))
        print((rd.dir / "report.md").read_text())
    print(f"run directory: {rd.dir}")
    return 0


def cmd_localize(ns: argparse.Namespace) -> int:
    import json

    from .stages import stage_localize

    path = stage_localize(*_open(ns.args))
    info = json.loads(path.read_text())
    print(f"region: {len(info['region'])} of {len(info['tensors'])} trainable tensors selected")
    print(f"wrote {path}")
    return 0


GENERATE_COMMANDS = {
    "augment": ("relearn", "ReLearn augmentation of the forget set (relearn* methods)"),
    "invert": ("meow", "MEOW inverted facts + MEMO scores from the target model (meow*)"),
    "corpus": ("rwku_corpus", "RWKU forget corpora: real/fabricated bios, refusal questions"),
}


def cmd_generate(ns: argparse.Namespace) -> int:
    from .generate.store import generated_path
    from .stages import stage_generate

    rd, models = _open(ns.args, check=False)  # it writes part of the benchmark
    kind = GENERATE_COMMANDS[ns.command][0]
    rows = stage_generate(rd, models, kind, force=True)
    path = generated_path(rd.dir, kind)
    print(f"{ns.command}: {len(rows)} rows -> {path}")
    print(path.with_suffix(".json").read_text().strip())
    return 0


def cmd_attack(ns: argparse.Namespace) -> int:
    from .attacks.runner import open_run, run_attacks
    from .report.robustness import table
    from .run_models import RunModels

    rd = open_run(_load(ns.args))
    run_attacks(rd, RunModels(rd))
    print(table(rd.dir))
    print(f"wrote {rd.dir / 'attacks'} and the robustness table in {rd.dir / 'report.md'}")
    return 0


def cmd_report(ns: argparse.Namespace) -> int:
    from .report.export import render

    dirs = [Path(d) for d in ns.run_dirs]
    print(render(dirs, ns.metrics, ns.format))
    if ns.plots:
        from .report.plots import comparison_plots
        from .report.tables import build_tables

        paths = comparison_plots(build_tables(dirs, ns.metrics)[0], Path(ns.plots))
        print(f"plots: {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0


def cmd_config(ns: argparse.Namespace) -> int:
    from .config import to_yaml

    if ns.keys:
        from .config_keys import render_keys

        print(render_keys(ns.section + "." if ns.section else ""))
        return 0
    print(to_yaml(_load(ns.args)), end="")
    return 0


def cmd_push(ns: argparse.Namespace) -> int:
    from .push import push

    print(push(Path(ns.run_dir), ns.repo, ns.model, ns.dry_run, ns.private))
    return 0


def cmd_sweep(ns: argparse.Namespace) -> int:
    from .sweep import parse_folds, run_sweep, sweep_table

    path, overrides = _split_config(ns.args)
    folds = parse_folds(ns.folds, ns.kind)
    print(sweep_table(run_sweep(ns.kind, path, overrides, folds, ns.knowmem_max)))
    return 0


def cmd_list(ns: argparse.Namespace) -> int:
    if ns.what == "methods":  # the static catalog: no torch (tests/test_catalog.py)
        from .catalog import METHOD_CATALOG

        for name, entry in sorted(METHOD_CATALOG.items()):
            params = ", ".join(f"{k}={v!r}" for k, v in entry.params.items()) or "-"
            print(f"{name:18s} {entry.description}\n{'':18s} params: {params}")
    elif ns.what == "benchmarks":
        from .benchmarks import BENCHMARKS

        for name, info in sorted(BENCHMARKS.items()):
            print(f"{name:18s} {info.description}")
    else:
        from .eval.metrics import describe_metrics

        for info in describe_metrics():
            print(f"{info.name:26s} {info.description}\n{'':26s} source: {info.source}")
    return 0


def cmd_bench_memory(ns: argparse.Namespace) -> int:
    from . import bench_memory as bm

    shape = bm.shape_of(bm.model_config(ns.model))
    kw = dict(engine=ns.engine, world=ns.world, batch=ns.batch, seq=ns.seq, answer=ns.answer,
              mixed=ns.mixed_precision != "no", checkpointing=ns.checkpointing,
              reference=ns.reference, full_logits=ns.full_logits)  # fmt: skip
    print(bm.render(ns.model, shape, bm.estimate(shape, **kw), kw))
    if ns.measure:
        for label, row in bm.measure(ns.model, ns.batch, ns.seq, ns.answer).items():
            fp32 = bm.estimate(shape, batch=ns.batch, seq=ns.seq, answer=ns.answer, mixed=False,
                               checkpointing="checkpointing" in label,
                               full_logits="full" in label)  # fmt: skip
            est = fp32["grads"] + fp32["activations"] + fp32["logits"]
            print(f"measured (CPU, fp32, forward + backward) {label}: {row}; estimate "
                  f"(grads + activations + logits) {est:.0f} MiB")  # fmt: skip
    return 0


def cmd_bench_throughput(ns: argparse.Namespace) -> int:
    from .bench_throughput import bench_throughput, render

    passes = [p for p in ns.passes.split(",") if p] if ns.passes else None
    report = bench_throughput(ns.config, ns.overrides, passes, ns.steps, ns.batch, ns.seq,
                              ns.eval_batches, ns.threads, ns.profile, ns.out)  # fmt: skip
    print(render(report))
    print(f"wrote {report['out']} and {Path(report['out']).with_suffix('.json')}")
    return 0


def cmd_bench(ns: argparse.Namespace) -> int:
    from .bench import bench_methods

    if ns.bench_command == "eval":
        from .bench_eval import bench_eval, render

        print(render(bench_eval(ns.run, ns.config, ns.overrides, ns.model, ns.rounds, ns.out)))
        return 0
    print(
        bench_methods(
            [ns.methods], ns.config, ns.base_run, ns.overrides, ns.configs_dir, ns.out, ns.prefix,
            ns.fresh, ns.timeout, ns.threads,
            [a for a in (ns.attacks or "").split(",") if a],
        )
    )  # fmt: skip
    return 0


def cmd_data(ns: argparse.Namespace) -> int:
    from .benchmarks.synthkb import build, write_jsonl

    data = build(num_people=ns.people, seed=ns.seed, holdout_people=ns.holdout)
    paths = write_jsonl(data, Path(ns.out))
    print(f"wrote {len(paths)} files to {ns.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="obliviate", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    help_cfg = "optional config YAML, then key=value overrides (e.g. unlearn.method=gd)"
    keys_help = "every key, its type, default and doc: `obliviate config --keys`"
    dry = "print the plan (stages run or reused, models, sets, estimated passes); run nothing"
    p = sub.add_parser("run", help="fine-tune, unlearn, evaluate and report", epilog=keys_help)
    p.add_argument("args", nargs="*", help=help_cfg)
    p.add_argument("--dry-run", action="store_true", help=dry)
    p.set_defaults(func=cmd_run)
    reads = {"finetune": "run, benchmark, model, finetune",
             "unlearn": "run, benchmark, model, finetune, unlearn, generate",
             "eval": "every section (missing stages run first)"}  # fmt: skip
    for name, text in [
        ("finetune", "fine-tune the target (and retain) model"),
        ("unlearn", "unlearn the target model"),
        ("eval", "evaluate the run's models and write metrics.json"),
    ]:
        epilog = f"reads the config sections: {reads[name]}; {keys_help} (--section NAME: one)"
        p = sub.add_parser(name, help=text, epilog=epilog)
        p.add_argument("args", nargs="*", help=help_cfg)
        p.add_argument("--dry-run", action="store_true", help=dry)
        p.set_defaults(func=cmd_stage)
    p = sub.add_parser("localize", help="MemFlex localisation: write the region to the run dir")
    p.add_argument("args", nargs="*", help=help_cfg)
    p.set_defaults(func=cmd_localize)
    for name, (_, text) in GENERATE_COMMANDS.items():
        p = sub.add_parser(name, help=text)
        p.add_argument("args", nargs="*", help=help_cfg)
        p.set_defaults(func=cmd_generate)
    p = sub.add_parser("attack", help="robustness attacks on a finished run (attacks/<kind>/)")
    p.add_argument("args", nargs="*", help=help_cfg)
    p.set_defaults(func=cmd_attack)
    p = sub.add_parser("report", help="table of one or more run directories (md/csv/json/latex)")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--format", default="md", choices=["md", "csv", "json", "latex"])
    p.add_argument(
        "--metrics",
        default="headline",
        help="headline (the suite's columns), all, or comma-separated globs (forget/*)",
    )
    p.add_argument("--plots", help="write the comparison's frontier and metric bars here")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("config", help="print the resolved config YAML (--keys: every key)")
    p.add_argument("args", nargs="*", help=help_cfg)
    p.add_argument("--keys", action="store_true", help="every key with type, default, doc line")
    p.add_argument("--section", default="", help="--keys of one section only (e.g. unlearn)")
    p.set_defaults(func=cmd_config)
    p = sub.add_parser("push", help="upload a run's model directory and its card to the hub")
    p.add_argument("run_dir")
    p.add_argument("--repo", required=True, help="hub repository id, e.g. me/tofu-npo")
    p.add_argument("--model", default="unlearned", help="models/<MODEL> (e.g. unlearned_lora)")
    p.add_argument("--dry-run", action="store_true", help="list the files; contact nothing")
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.set_defaults(func=cmd_push)
    p = sub.add_parser("sweep", help="MUSE scal / sust / checkpoint choice: one run per fold")
    p.add_argument("kind", choices=["scal", "sust", "epochs"])
    p.add_argument("args", nargs="*", help=help_cfg)
    p.add_argument("--folds", default="1,2,3,4", help="folds 1-4, or epoch counts (epochs)")
    p.add_argument("--knowmem-max", type=float, help="epochs: the retrained model's KnowMem on D_f")
    p.set_defaults(func=cmd_sweep)
    p = sub.add_parser("list", help="list methods, benchmarks or metrics")
    p.add_argument("what", choices=["methods", "benchmarks", "metrics"])
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("bench", help="benchmark methods, or the evaluation's cost, into a table")
    bench_sub = p.add_subparsers(dest="bench_command", required=True)
    b = bench_sub.add_parser("methods", help="unlearn + eval each method against one base run")
    b.add_argument("--methods", required=True, help="comma-separated names, or 'all'")
    b.add_argument("--config", help="benchmark config YAML (default: the quickstart)")
    b.add_argument("--base-run", help="finished run with the target/retain models (else made)")
    b.add_argument("--configs-dir", default="configs/methods", help="per-method <name>.yaml")
    b.add_argument("--out", help="markdown table path (default <out_dir>/<prefix>methods.md)")
    b.add_argument("--prefix", default="bench_", help="run-name prefix of the method runs")
    b.add_argument("--fresh", action="store_true", help="redo finished unlearn/eval stages")
    b.add_argument("--timeout", type=float, help="seconds per method subprocess")
    b.add_argument("--threads", type=int, default=0, help="OMP/MKL threads per subprocess")
    b.add_argument("--attacks", help="robustness column: attack kinds each method run gets, "
                   "e.g. relearn,quantize,prompt,latent (attack.* overrides apply)")  # fmt: skip
    b.add_argument("overrides", nargs="*", help="key=value overrides for every run")
    b.set_defaults(func=cmd_bench)
    b = bench_sub.add_parser("eval", help="cost of every metric vs the foundation suite")
    b.add_argument("--run", required=True, help="finished run whose model is evaluated")
    b.add_argument("--config", help="the run's config YAML (default: the quickstart)")
    b.add_argument("--model", default="target", choices=["target", "retain", "unlearned"])
    b.add_argument("--rounds", type=int, default=3, help="timed rounds after one warm-up round")
    b.add_argument("--out", help="markdown table path (default <out_dir>/bench_eval/bench_eval.md)")
    b.add_argument("overrides", nargs="*", help="key=value overrides for every config")
    b.set_defaults(func=cmd_bench)
    b = bench_sub.add_parser("throughput", help="tokens/s, FLOP/s and share of the matmul peak: "
                             "training, scoring, generation")  # fmt: skip
    b.add_argument("--config", help="config YAML (default: the quickstart: tiny model, synthkb)")
    b.add_argument("--passes", help="comma-separated: finetune,npo,gd,score,generate (default all)")
    b.add_argument("--steps", type=int, default=10, help="timed optimizer steps per training pass")
    b.add_argument("--batch", type=int, default=0, help="training batch (0: each section's)")
    b.add_argument("--seq", type=int, default=0,
                   help="tokens per example (0: the data's own lengths; >0: prompts lengthened "
                        "and cut to exactly this many tokens)")  # fmt: skip
    b.add_argument("--eval-batches", type=int, default=2, help="scoring / generation batches")
    b.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    b.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="torch.profiler breakdown of the fine-tune loop (auto: under 70%% of peak)",
    )
    b.add_argument("--out", help="markdown path (default <out_dir>/bench_throughput/throughput.md)")
    b.add_argument("overrides", nargs="*", help="key=value config overrides")
    b.set_defaults(func=cmd_bench_throughput)
    b = bench_sub.add_parser("memory", help="per-rank training memory: estimate (+ CPU measure)")
    b.add_argument("model", help="bench-100m, a tiny preset, or a local model path / hub id")
    b.add_argument("--engine", choices=["ddp", "zero2", "zero3", "fsdp"], default="ddp")
    b.add_argument("--world", type=int, default=1, help="number of ranks")
    b.add_argument("--batch", type=int, default=4, help="per-device batch")
    b.add_argument("--seq", type=int, default=512, help="tokens per example")
    b.add_argument("--answer", type=int, default=32, help="labelled tokens per example")
    b.add_argument("--mixed-precision", choices=["no", "bf16", "fp16"], default="bf16")
    b.add_argument("--checkpointing", action="store_true", help="gradient checkpointing")
    b.add_argument("--reference", action="store_true", help="a frozen reference copy")
    b.add_argument("--full-logits", action="store_true", help="logits at every position")
    b.add_argument("--measure", action="store_true", help="measure peaks on this CPU too")
    b.set_defaults(func=cmd_bench_memory)
    p = sub.add_parser("data", help="write benchmark data to disk")
    data_sub = p.add_subparsers(dest="data_command", required=True)
    s = data_sub.add_parser("synth", help="generate the synthkb benchmark as JSONL")
    s.add_argument("--out", required=True)
    s.add_argument("--people", type=int, default=40)
    s.add_argument("--holdout", type=int, default=4)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_data)
    return parser


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (``obliviate: error: ...``), exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"obliviate: error: {self.prog}: {message} (see {self.prog} --help)\n")


WRITE_ERRNOS = {errno.EROFS, errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EDQUOT}


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    try:
        return ns.func(ns)
    except ObliviateError as exc:
        print(f"obliviate: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a read-only or full disk, a directory without permission
        if exc.errno not in WRITE_ERRNOS:
            raise
        where = exc.filename or "a file"
        print(f"obliviate: error: cannot write {where}: {exc.strerror}; accepted: a writable "
              "run.out_dir with free space", file=sys.stderr)  # fmt: skip
        return 2
    except Interrupted as exc:
        print(f"obliviate: interrupted: {exc.message}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print(
            "obliviate: interrupted; finished stages are kept and will be reused", file=sys.stderr
        )
        return 130
    finally:
        _release_locks()


def _release_locks() -> None:
    """The run-directory locks this process holds (none unless a command opened a run)."""
    run_dir = sys.modules.get(f"{__package__}.run_dir")
    if run_dir is not None:
        run_dir.release_lock()


if __name__ == "__main__":
    raise SystemExit(main())
