"""Plots of a run or a comparison, each a PNG with the plotted numbers as CSV beside it.

- training curves (``plots/train_<stage>.png``): every logged part of ``logs/<stage>.jsonl``
  (``loss`` and the method's parts, e.g. ``forget_loss`` / ``retain_loss``) against the
  optimizer step, the learning rate on a second axis;
- the forget-vs-utility frontier (``frontier.png``): one point per unlearned model, the target
  and the retain model marked, x = utility (``model_utility``, else the suite's first kept-
  knowledge column), y = forgetting (``forget_quality``, else the first forget column);
- per-set metric bars (``metrics.png``): the headline columns, one bar per model.

matplotlib (a dependency) is imported lazily
with its Agg canvas only (no pyplot, no global backend change); without it the CSVs are still
written and :func:`have_matplotlib` says why the PNGs are not.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..io import write_atomic
from .labels import DOWN, UP, direction, label

PLOTS_DIR = "plots"
MARKERS = {"target": ("*", "black"), "retain": ("D", "white")}  # never a method colour


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float = 6.4, height: float = 4.2):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save_png(fig: Any, path: Path) -> Path:
    """``fig`` as PNG at ``path`` atomically (a temporary file beside it, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in r] for r in rows])
    return write_atomic(path, buf.getvalue())


def read_log(path: Path) -> list[dict[str, float]]:
    """The entries of a ``logs/<stage>.jsonl`` (a line that is not JSON is skipped: a log cut by
    a crash keeps its earlier steps)."""
    out = []
    for line in Path(path).read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and "step" in entry:
            out.append(entry)
    return out


def training_curve(log_path: Path, out_dir: Path) -> list[Path]:
    """``train_<stage>.csv`` (step, lr, every loss part) and its PNG; [] for an empty log."""
    entries = read_log(log_path)
    if not entries:
        return []
    stage = Path(log_path).stem
    parts = list(dict.fromkeys(k for e in entries for k in e if k not in ("step", "lr")))
    header = ["step", "lr", *parts]
    rows = [[e.get(k) for k in header] for e in entries]
    paths = [_write_csv(out_dir / f"train_{stage}.csv", header, rows)]
    if not have_matplotlib():
        return paths
    fig = _figure()
    ax = fig.add_subplot()
    steps = [e["step"] for e in entries]
    for part in parts:
        pts = [(s, e[part]) for s, e in zip(steps, entries) if isinstance(e.get(part), int | float)]
        if pts:
            ax.plot(*zip(*pts), marker="o", markersize=3, label=part)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (mean over the logged steps)")
    ax.set_title(f"training curve: {stage}")
    lrs = [(s, e["lr"]) for s, e in zip(steps, entries) if isinstance(e.get("lr"), int | float)]
    if lrs:
        ax2 = ax.twinx()
        ax2.plot(*zip(*lrs), color="grey", linestyle="--", label="lr")
        ax2.set_ylabel("learning rate")
        handles, names = ax.get_legend_handles_labels()
        h2, n2 = ax2.get_legend_handles_labels()
        ax.legend(handles + h2, names + n2, loc="best", fontsize="small")
    else:
        ax.legend(loc="best", fontsize="small")
    paths.append(_save_png(fig, out_dir / f"train_{stage}.png"))
    return paths


def frontier_axes(rows: list[tuple[str, dict[str, Any]]], headline: list[str]) -> tuple[str, str]:
    """(x, y) keys of the frontier: utility and forgetting (see the module docstring)."""
    have = {k for _, m in rows for k, v in m.items() if isinstance(v, int | float)}

    def forget_like(k: str) -> bool:
        return k.startswith(("forget", "unlearn")) or direction(k) == DOWN

    y = "forget_quality" if "forget_quality" in have else None
    y = y or next((k for k in headline if k in have and forget_like(k)), None)
    x = "model_utility" if "model_utility" in have else None
    x = x or next((k for k in headline if k in have and not forget_like(k) and k != y), None)
    if x is None or y is None:
        rest = [k for k in headline if k in have and k not in (x, y)]
        x, y = x or (rest.pop(0) if rest else ""), y or (rest.pop(0) if rest else "")
    return x, y


def frontier(
    points: list[tuple[str, str, Any, Any]],
    x_key: str,
    y_key: str,
    out_dir: Path,
    name: str = "frontier",
    title: str = "forget vs utility",
    labels: dict[str, str] | None = None,
) -> list[Path]:
    """``<name>.csv`` (label, kind, x, y) and ``<name>.png``: one point per ``(label, kind, x,
    y)``; kind ``target`` / ``retain`` are drawn as marked references, any other as a method.
    Points without both numbers are left out of both files."""
    pts = [(lab, kind, float(x), float(y)) for lab, kind, x, y in points
           if isinstance(x, int | float) and isinstance(y, int | float)]  # fmt: skip
    if not pts or not x_key or not y_key:
        return []
    paths = [_write_csv(out_dir / f"{name}.csv", ["label", "kind", x_key, y_key],
                        [list(p) for p in pts])]  # fmt: skip
    if not have_matplotlib():
        return paths
    fig = _figure()
    ax = fig.add_subplot()
    methods = [p for p in pts if p[1] not in MARKERS]
    for lab, _, x, y in methods:
        ax.scatter([x], [y], s=40, label=lab, zorder=3)
        ax.annotate(lab, (x, y), textcoords="offset points", xytext=(4, 4), fontsize="small")
    for lab, kind, x, y in pts:
        if kind in MARKERS:
            marker, color = MARKERS[kind]
            ax.scatter([x], [y], s=140, marker=marker, color=color, edgecolor="black",
                       label=lab if kind in lab else f"{lab} ({kind})", zorder=4)  # fmt: skip
    ax.set_xlabel(label(x_key, labels))
    ax.set_ylabel(label(y_key, labels))
    ys = [p[3] for p in pts]
    if min(ys) > 0 and max(ys) / min(ys) > 100:  # forget quality spans orders of magnitude
        ax.set_yscale("log")
        ax.set_ylabel(label(y_key, labels) + " (log scale)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    paths.append(_save_png(fig, out_dir / f"{name}.png"))
    return paths


def metric_bars(
    rows: list[tuple[str, dict[str, Any]]],
    columns: list[str],
    out_dir: Path,
    labels: dict[str, str] | None = None,
    name: str = "metrics",
) -> list[Path]:
    """``<name>.csv`` (model, one column per metric) and grouped bars: per metric, one bar per
    model; a metric no model has a number for is left out."""
    cols = [c for c in columns if any(isinstance(m.get(c), int | float) for _, m in rows)]
    if not rows or not cols:
        return []
    table = [[lab, *[m.get(c) for c in cols]] for lab, m in rows]
    paths = [_write_csv(out_dir / f"{name}.csv", ["model", *cols], table)]
    if not have_matplotlib():
        return paths
    fig = _figure(max(6.4, 1.1 * len(cols) + 2), 4.6)
    ax = fig.add_subplot()
    width = 0.8 / len(rows)
    for i, (lab, m) in enumerate(rows):
        xs = [j + (i - (len(rows) - 1) / 2) * width for j in range(len(cols))]
        ys = [float(m[c]) if isinstance(m.get(c), int | float) else 0.0 for c in cols]
        ax.bar(xs, ys, width=width, label=lab)
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels([label(c, labels) for c in cols], rotation=30, ha="right",
                       fontsize="small")  # fmt: skip
    ax.set_ylabel("value (arrow: the better direction)")
    ax.set_title(f"headline metrics per model ({UP} higher / {DOWN} lower is better)")
    ax.legend(loc="best", fontsize="small")
    paths.append(_save_png(fig, out_dir / f"{name}.png"))
    return paths


def run_plots(run_dir: Path, metrics: dict[str, Any]) -> list[Path]:
    """Every plot of one run into ``<run>/plots/``: a training curve per ``logs/*.jsonl``, the
    metric bars and the frontier of its models (target, retain, unlearned)."""
    from .tables import ROLE_LABELS, column_labels, headline_columns

    run_dir = Path(run_dir)
    out = run_dir / PLOTS_DIR
    paths: list[Path] = []
    for log in sorted((run_dir / "logs").glob("*.jsonl")):
        paths += _guarded(training_curve, log, out)
    bench = metrics.get("benchmark", "")
    try:
        headline, labels = headline_columns(bench), column_labels(bench)
    except KeyError:  # a benchmark registered by a module not imported here
        headline, labels = [], {}
    rows = [(ROLE_LABELS.get(r, r), m) for r, m in metrics.get("models", {}).items()]
    paths += _guarded(metric_bars, rows, headline, out, labels)
    x, y = frontier_axes(rows, headline)
    points = [(ROLE_LABELS.get(r, r), r if r in MARKERS else "method", m.get(x), m.get(y))
              for r, m in metrics.get("models", {}).items()]  # fmt: skip
    paths += _guarded(frontier, points, x, y, out, "frontier", f"{run_dir.name}: forget vs utility",
                      labels)  # fmt: skip
    return paths


def _guarded(fn: Any, *args: Any) -> list[Path]:
    """A plot that fails (a matplotlib error on odd numbers) is one note, never a failed run:
    ``metrics.json`` is written before the plots."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - the run's results are already on disk
        import sys

        print(f"obliviate: note: plot {fn.__name__} not written: {type(exc).__name__}: {exc}",
              file=sys.stderr)  # fmt: skip
        return []


def bench_frontier(rows: list[dict[str, Any]], base: dict[str, Any], out_dir: Path,
                   name: str = "frontier") -> list[Path]:  # fmt: skip
    """The frontier of ``obliviate bench methods``: the base run's target and retain models
    and one point per finished method row (``row["metrics"]``), forget quality against model
    utility where every point has both, else forget vs retain ROUGE-L recall."""
    pts = [(r, r, base[r]) for r in ("target", "retain") if r in base]
    pts += [(row["method"], "method", row["metrics"]) for row in rows
            if row.get("status") == "ok"]  # fmt: skip
    x, y = "model_utility", "forget_quality"
    if not all(isinstance(m.get(x), int | float) and isinstance(m.get(y), int | float)
               for _, _, m in pts):  # fmt: skip
        x, y = "retain/rouge_l_recall", "forget/rouge_l_recall"
    points = [(lab, kind, m.get(x), m.get(y)) for lab, kind, m in pts]
    return frontier(points, x, y, out_dir, name, title="bench methods: forget vs utility")


def comparison_plots(tables: list[Any], out_dir: Path) -> list[Path]:
    """``obliviate report RUN... --plots DIR``: per table (a comparable group of runs), the
    frontier of its rows (target and retain marked, one point per unlearned run) and the
    metric bars, as ``frontier_<i>`` / ``metrics_<i>`` (PNG + CSV)."""
    paths: list[Path] = []
    for i, t in enumerate(tables):
        x, y = frontier_axes(t.pairs, t.columns)
        points = [(lab, role if role in MARKERS else "method", m.get(x), m.get(y))
                  for lab, _, role, m in t.rows]  # fmt: skip
        title = f"{t.benchmark}: forget vs utility"
        paths += frontier(points, x, y, out_dir, f"frontier_{i}", title, t.labels)
        paths += metric_bars(t.pairs, t.columns, out_dir, t.labels, f"metrics_{i}")
    return paths
