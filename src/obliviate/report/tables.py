"""Markdown tables from run directories: rows target / retain / unlearned, the suite's columns.

Empty and degenerate generations are never forgetting: a forget set's ``empty_rate`` and
``degenerate_rate`` are shown beside the suite's columns, and where their sum reaches
:data:`FLAG_RATE` the model's scores on that set are marked † and named under the table as not
evidence of forgetting (the numbers themselves stay the paper's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ObliviateError
from ..io import write_atomic

FLAG_RATE = 0.1  # empty + degenerate share from which a set's scores are marked
RATES = ("empty_rate", "degenerate_rate")
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


def degenerate_sets(metrics: dict[str, Any]) -> dict[str, float]:
    """Set -> empty_rate + degenerate_rate, for the sets where it reaches :data:`FLAG_RATE`."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name, _, metric = key.rpartition("/")
        if metric == "empty_rate" and isinstance(value, int | float):
            rate = float(value) + float(metrics.get(f"{name}/degenerate_rate") or 0.0)
            if rate >= FLAG_RATE:
                out[name] = rate
    return out


def _column_set(column: str, flagged: dict[str, float]) -> str | None:
    """The flagged set a column reads (``forget/rouge_l_recall`` -> forget; RWKU's ``forget_fb``
    is its set; ``forget_all`` pools ``forget_*``)."""
    name = column.split("/")[0]
    if name in flagged:
        return name
    if name.endswith("_all"):
        return next((s for s in flagged if s.startswith(name[:-3])), None)
    return None


def rate_columns(rows: list[tuple[str, dict[str, Any]]], columns: list[str]) -> list[str]:
    """``<set>/empty_rate`` and ``<set>/degenerate_rate`` of the forget sets any row has."""
    sets = dict.fromkeys(
        k.rpartition("/")[0] for _, m in rows for k in m if k.rpartition("/")[2] in RATES
    )
    return [f"{s}/{r}" for s in sets if s.startswith("forget") for r in RATES
            if f"{s}/{r}" not in columns]  # fmt: skip


def markdown_table(
    rows: list[tuple[str, dict[str, Any]]],
    columns: list[str],
    labels: dict[str, str] | None = None,
) -> str:
    """The table; a forget score of a set with empty/degenerate answers is marked †."""
    head = "| model | " + " | ".join((labels or {}).get(c, c) for c in columns) + " |"
    sep = "|---|" + "---|" * len(columns)
    body = []
    for label, m in rows:
        flagged = degenerate_sets(m)
        cells = []
        for c in columns:
            mark = c.startswith("forget") and c.rpartition("/")[2] not in RATES
            cells.append(_fmt(m.get(c)) + (" †" if mark and _column_set(c, flagged) else ""))
        name = label + (" ‼ collapsed" if collapsed(m) else "")
        body.append("| " + name + " | " + " | ".join(cells) + " |")
    return "\n".join([head, sep, *body])


def collapsed(metrics: dict[str, Any]) -> bool:
    """Every generation of every set is empty or one repeated token (empty_rate +
    degenerate_rate = 1 on each set that has them): the model collapsed."""
    rates = [float(v) + float(metrics.get(f"{k.rpartition('/')[0]}/degenerate_rate") or 0.0)
             for k, v in metrics.items()
             if k.endswith("/empty_rate") and isinstance(v, int | float)]  # fmt: skip
    return bool(rates) and min(rates) >= 1.0 - 1e-9


def flag_notes(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """One line per model whose forget answers are empty or degenerate (:data:`FLAG_RATE`), and
    one per collapsed model (:func:`collapsed`)."""
    notes = []
    for label, m in rows:
        if collapsed(m):
            notes.append(
                f"‼ {label}: COLLAPSED: every generation of every set is empty or one repeated "
                "token; none of its scores is evidence of forgetting or of kept utility."
            )
        flagged = {s: r for s, r in degenerate_sets(m).items() if s.startswith("forget")}
        if flagged:
            parts = ", ".join(
                f"{s} empty_rate {_fmt(m.get(f'{s}/empty_rate'))}, degenerate_rate "
                f"{_fmt(m.get(f'{s}/degenerate_rate'))}"
                for s in flagged
            )
            notes.append(
                f"† {label}: {parts}: its forget scores there are not evidence of forgetting "
                "(empty or degenerate answers score low without showing the knowledge is gone)."
            )
    return notes


def suite_notes(benchmark: str, rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Lines under the table from the suite's ``report_notes(rows)``, where it has one."""
    from ..benchmarks import BENCHMARKS
    from ..eval.suites import get_suite

    notes = getattr(get_suite(BENCHMARKS[benchmark].suite), "report_notes", None)
    return list(notes(rows)) if notes is not None else []


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
    columns += rate_columns(rows, columns)
    lines = [title, "", markdown_table(rows, columns, column_labels(benchmark)), ""]
    if notes := flag_notes(rows):
        lines += [*notes, ""]
    if notes := suite_notes(benchmark, rows):  # a suite's own lines (``report_notes``)
        lines += [*notes, ""]
    timings = all_metrics[0][1].get("timings")
    if len(all_metrics) == 1 and timings:
        lines += ["Stage timings (s): " + ", ".join(f"{k} {v}" for k, v in timings.items()), ""]
    return "\n".join(lines)


def write_report(run_dir: Path) -> str:

    text = render_report([run_dir])
    write_atomic(Path(run_dir) / "report.md", text)
    return text
