"""``obliviate bench methods``: one unlearn + eval per method, each in a fresh process, one table.

Every method runs as ``python -m obliviate run CONFIG run.base_run=BASE run.name=PREFIX<method>``
in its own subprocess, so the peak memory recorded in its ``stages/unlearn.json``
(``training.peak_memory_mb``: peak CUDA memory allocated on a GPU, else the process's peak
resident set size, ``ru_maxrss``) belongs to that method alone. The fine-tuned target and retain
models (and their evaluation) come from one base run, created first when not given. CONFIG is the
benchmark config (default: the quickstart) deep-merged with ``<configs-dir>/<method>.yaml`` when
that file exists (per-method settings: lr, epochs, parameters), then the command-line overrides.

The table (markdown, plus the raw rows as JSON beside it) has, per method: forget and retain
ROUGE-L recall, forget quality, model utility, unlearning seconds (prepare + training), training
tokens/s, peak memory, trainable parameters and the settings used. Any registered method can be
benchmarked, including methods added later: the command knows methods only by name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from .config import _load_yaml, load_config, to_dict
from .errors import ObliviateError
from .io import write_atomic, write_json

METRIC_COLUMNS = [
    ("forget/rouge_l_recall", "forget ROUGE-L ↓"),
    ("retain/rouge_l_recall", "retain ROUGE-L ↑"),
    ("forget_quality", "forget quality ↑"),
    ("model_utility", "model utility ↑"),
]
# sections that must agree between the base run and a method run, else the method run would
# fine-tune the target and retain models again, into the base run (an eval difference only
# re-evaluates them there, which is harmless)
SHARED_SECTIONS = ("benchmark", "model", "finetune")


def resolve_methods(spec: list[str]) -> list[str]:
    """Method names from ``spec`` (``all`` = every registered method), validated."""
    from .methods import METHODS, get_method_class

    names: list[str] = []
    for item in spec:
        for name in (n.strip() for n in item.split(",")):
            if name == "all":
                names += sorted(METHODS)
            elif name:
                get_method_class(name)  # raises on an unknown name
                names.append(name)
    if not names:
        raise ObliviateError("bench methods: no method given (names, or 'all')")
    return list(dict.fromkeys(names))


def deep_merge(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def method_config(method: str, config: str | None, configs_dir: Path) -> dict[str, Any]:
    """The benchmark config merged with the method's own config file (when there is one)."""
    merged = _load_yaml(Path(config)) if config else {}
    path = configs_dir / f"{method}.yaml"
    if path.is_file():
        merged = deep_merge(merged, _load_yaml(path))
    unlearn = dict(merged.get("unlearn") or {})
    if unlearn.get("method", method) != method:
        raise ObliviateError(f"{path}: unlearn.method is {unlearn['method']!r}, not {method!r}")
    unlearn["method"] = method
    merged["unlearn"] = unlearn
    return merged


def _shared(cfg_dict: dict[str, Any]) -> dict[str, Any]:
    return {s: cfg_dict.get(s) for s in SHARED_SECTIONS} | {"seed": cfg_dict["run"]["seed"]}


def check_base_compatible(base_dir: Path, cfg_dict: dict[str, Any], where: str) -> None:
    """A method run must share the base run's benchmark/model/finetune settings and seed (the
    base config read through the schema: keys added since it was written take their defaults)."""
    base_cfg = to_dict(load_config(base_dir / "config.yaml"))
    mine, theirs = _shared(cfg_dict), _shared(base_cfg)
    diff = [
        f"{section}.{key}"
        for section in mine
        for key in sorted(set(mine[section] or {}) | set(theirs[section] or {}))
        if section != "seed" and (mine[section] or {}).get(key) != (theirs[section] or {}).get(key)
    ]
    if mine["seed"] != theirs["seed"]:
        diff.append("run.seed")
    if diff:
        raise ObliviateError(
            f"{where} differs from the base run {base_dir} in {', '.join(diff)}; the base run's "
            "models would be retrained: use a base run made with the same settings"
        )


def _run(cmd: list[str], log: Path, timeout: float | None, env: dict[str, str]) -> tuple[int, str]:
    """Run ``cmd``, writing its output to ``log``; returns (exit code, last error line)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as fh:
        try:
            proc = subprocess.run(
                cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout, env=env
            )
            code = proc.returncode
        except subprocess.TimeoutExpired:
            return 124, f"timed out after {timeout} s"
    lines = [ln.strip() for ln in log.read_text().splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return code, (errors or lines or [""])[-1][:200]


def _settings(cfg: dict[str, Any]) -> str:
    """Training length, lr, batch and the parameters that differ from the method's defaults."""
    from .methods import get_method_class

    u = cfg["unlearn"]
    cls = get_method_class(u["method"])
    defaults = cls.param_defaults()
    changed = {k: v for k, v in (u.get("params") or {}).items() if defaults.get(k, v) != v}
    params = ", ".join(f"{k}={v}" for k, v in changed.items())
    if not cls.trains:
        return "no training" + (f"; {params}" if params else "")
    length = f"{u['max_steps']} steps" if u.get("max_steps", -1) > 0 else f"{u['epochs']:g} ep"
    text = f"lr {u['lr']:g}, {length}, bs {u['batch_size']}"
    if u.get("grad_accum", 1) != 1:
        text += f"×{u['grad_accum']}"
    if u.get("scope", "full") != "full":
        text += f", scope {u['scope']} {u.get('layers', '')}".rstrip()
    return text + (f"; {params}" if params else "")


def collect_row(method: str, run_dir: Path) -> dict[str, Any]:
    """Metrics, training summary and settings of a finished method run."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    stage = json.loads((run_dir / "stages" / "unlearn.json").read_text())
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    unlearned = metrics["models"].get("unlearned", {})
    training = stage.get("training", {})
    return {
        "method": method,
        "run_dir": str(run_dir),
        "status": "ok",
        "metrics": {key: unlearned.get(key) for key, _ in METRIC_COLUMNS},
        "unlearn_seconds": stage.get("seconds"),
        "prepare_seconds": stage.get("prepare_seconds"),
        "training": training,
        "settings": _settings(cfg),
        "robustness": robustness_cell(run_dir),
    }


def robustness_cell(run_dir: Path) -> str | None:
    """The worst attack's recovery and name (``attacks/``, written with ``--attacks``)."""
    from .report.robustness import worst

    label, value = worst(run_dir)
    return None if label is None else f"{value:.3f} ({label})"


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if digits >= 3 and value != 0 and abs(value) < 10**-digits:
            return f"{value:.2e}"
        return f"{value:.{digits}f}"
    return str(value)


def render_table(rows: list[dict[str, Any]], base: dict[str, Any], memory_kind: str) -> str:
    """Markdown table: the base run's target and retain rows, then one row per method."""
    head = ["method", *[label for _, label in METRIC_COLUMNS], "unlearn s", "tokens/s",
            f"peak {memory_kind} MB", "trainable params", "settings"]  # fmt: skip
    robust = any(r.get("robustness") for r in rows)  # --attacks: the worst attack's recovery
    if robust:
        head.insert(1 + len(METRIC_COLUMNS), "worst recovery ↓")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    blank = ["–"] * (len(head) - 1 - len(METRIC_COLUMNS))
    for role in ("target", "retain"):
        if role in base:
            vals = [_fmt(base[role].get(k)) for k, _ in METRIC_COLUMNS]
            lines.append(f"| *{role}* | " + " | ".join(vals + blank) + " |")
    for row in rows:
        if row["status"] != "ok":
            cells = ["–"] * (len(head) - 2)
            status = row["status"].replace("|", "\\|")
            lines.append(f"| {row['method']} | " + " | ".join(cells) + f" | {status} |")
            continue
        t = row["training"]
        steps = t.get("steps", 0)
        cells = [_fmt(row["metrics"][k]) for k, _ in METRIC_COLUMNS]
        cells += [row.get("robustness") or "–"] if robust else []
        cells += [
            _fmt(row["unlearn_seconds"], 1),
            _fmt(t.get("tokens_per_s"), 0) if steps else "–",
            _fmt(t.get("peak_memory_mb"), 0) if steps else "–",
            f"{t['trainable_params']:,}" if steps else "0",
            row["settings"].replace("|", "\\|"),  # a regex's "|" would split the cell
        ]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bench_methods(
    methods: list[str],
    config: str | None = None,
    base_run: str | None = None,
    overrides: list[str] | None = None,
    configs_dir: str = "configs/methods",
    out: str | None = None,
    prefix: str = "bench_",
    fresh: bool = False,
    timeout: float | None = None,
    threads: int = 0,
    attacks: list[str] | None = None,
) -> str:
    """Run every method against one base run; write and return the markdown table."""
    overrides = list(overrides or [])
    names = resolve_methods(methods)
    cfg = load_config(config, overrides)  # validates the config and overrides up front
    out_dir = Path(cfg.run.out_dir)
    env = dict(os.environ)
    if threads > 0:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    python = [sys.executable, "-m", "obliviate"]
    cfg_args = [config] if config else []
    if base_run:
        base_dir = Path(base_run)
        if not (base_dir / "metrics.json").is_file():
            raise ObliviateError(f"--base-run {base_run}: no metrics.json, not a finished run")
    else:
        base_dir = out_dir / f"{prefix}base"
        if not (base_dir / "metrics.json").is_file():
            print(f"bench: creating the base run {base_dir}", file=sys.stderr)
            code, last = _run([*python, "run", *cfg_args, *overrides, f"run.name={base_dir.name}"],
                              out_dir / f"{prefix}base.log", timeout, env)  # fmt: skip
            if code != 0:
                raise ObliviateError(f"bench: the base run failed ({code}): {last}")
    base_metrics = json.loads((base_dir / "metrics.json").read_text())["models"]
    cfg_dir = out_dir / ".bench"
    rows: list[dict[str, Any]] = []
    for name in names:
        merged = method_config(name, config, Path(configs_dir))
        cfg_path = cfg_dir / f"{prefix}{name}.yaml"
        write_atomic(cfg_path, yaml.safe_dump(merged, sort_keys=False))
        resolved = to_dict(load_config(cfg_path, overrides))
        check_base_compatible(base_dir, resolved, f"the config of {name}")
        run_dir = out_dir / f"{prefix}{name}"
        if fresh:
            for stage in ("unlearn", "eval_unlearned"):
                (run_dir / "stages" / f"{stage}.json").unlink(missing_ok=True)
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        # the robustness column: each method run attacks itself (eval.attacks)
        overrides_m = [*overrides, f"eval.attacks=[{','.join(attacks)}]"] if attacks else overrides
        cmd = [*python, "run", str(cfg_path), *overrides_m, f"run.base_run={base_dir}",
               f"run.name={run_dir.name}", f"run.out_dir={out_dir}"]  # fmt: skip
        code, last = _run(cmd, out_dir / f"{prefix}{name}.log", timeout, env)
        if code == 0:
            row = collect_row(name, run_dir)
        else:
            row = {"method": name, "run_dir": str(run_dir), "status": f"failed ({code}): {last}"}
        row["wall_seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(f"bench: {name} {row['status']} in {row['wall_seconds']} s", file=sys.stderr)
    memory_kind = "CUDA" if torch.cuda.is_available() else "RSS"
    table = render_table(rows, base_metrics, memory_kind)
    out_path = Path(out) if out else out_dir / f"{prefix}methods.md"
    write_atomic(out_path, table + "\n")
    write_json(out_path.with_suffix(".json"), {"base_run": str(base_dir), "rows": rows})
    from .report.plots import bench_frontier

    bench_frontier(rows, base_metrics, out_path.parent, f"{out_path.stem}_frontier")
    return table
