"""Markdown tables from run directories: rows target / retain / unlearned, the suite's columns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ObliviateError
from ..io import write_atomic

ROLE_LABELS = {"target": "target (fine-tuned)", "retain": "retain (gold)", "unlearned": "unlearned"}


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e4):
            return f"{value:.2e}"
        return f"{value:.3f}"
    return str(value)


def headline_columns(benchmark: str) -> list[str]:
    from ..benchmarks import BENCHMARKS
    from ..eval.suites import get_suite

    return list(get_suite(BENCHMARKS[benchmark].suite).headline)


def column_labels(benchmark: str) -> dict[str, str]:
    """The paper's column names for metric keys (SPEC 7), where the suite gives them."""
    from ..benchmarks import BENCHMARKS
    from ..eval.suites import get_suite

    return dict(getattr(get_suite(BENCHMARKS[benchmark].suite), "labels", {}))


def markdown_table(
    rows: list[tuple[str, dict[str, Any]]],
    columns: list[str],
    labels: dict[str, str] | None = None,
) -> str:
    head = "| model | " + " | ".join((labels or {}).get(c, c) for c in columns) + " |"
    sep = "|---|" + "---|" * len(columns)
    body = ["| " + label + " | " + " | ".join(_fmt(m.get(c)) for c in columns) + " |"
            for label, m in rows]  # fmt: skip
    return "\n".join([head, sep, *body])


def load_metrics(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise ObliviateError(f"{path} does not exist: is {run_dir} a finished run directory?")
    return json.loads(path.read_text())


def run_table(metrics: dict[str, Any], label_prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    return [
        (label_prefix + ROLE_LABELS.get(role, role), m) for role, m in metrics["models"].items()
    ]


def render_report(run_dirs: list[Path]) -> str:
    """One table over one or more run directories (the unlearned rows of each, after the first
    run's target and retain rows when several runs are compared)."""
    all_metrics = [(Path(d), load_metrics(Path(d))) for d in run_dirs]
    benchmark = all_metrics[0][1]["benchmark"]
    columns = headline_columns(benchmark)
    if len(all_metrics) == 1:
        d, m = all_metrics[0]
        rows = run_table(m)
        title = f"# {d.name}: {benchmark}, method {m['method']}"
    else:
        first = all_metrics[0][1]["models"]
        rows = [(ROLE_LABELS[r], first[r]) for r in ("target", "retain") if r in first]
        rows += [(f"{m['method']} ({d.name})", m["models"]["unlearned"])
                 for d, m in all_metrics if "unlearned" in m["models"]]  # fmt: skip
        title = f"# {benchmark}: {len(all_metrics)} runs"
    lines = [title, "", markdown_table(rows, columns, column_labels(benchmark)), ""]
    timings = all_metrics[0][1].get("timings")
    if len(all_metrics) == 1 and timings:
        lines += ["Stage timings (s): " + ", ".join(f"{k} {v}" for k, v in timings.items()), ""]
    return "\n".join(lines)


def write_report(run_dir: Path) -> str:

    text = render_report([run_dir])
    write_atomic(Path(run_dir) / "report.md", text)
    return text
