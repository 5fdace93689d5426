"""Markdown tables from run directories: rows target / retain / unlearned, the suite's columns.

Empty and degenerate generations are never forgetting: a forget set's ``empty_rate`` and
``degenerate_rate`` are shown beside the suite's columns, and where their sum reaches
:data:`FLAG_RATE` the model's scores on that set are marked † and named under the table as not
evidence of forgetting (the numbers themselves stay the paper's)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ObliviateError
from ..io import write_atomic
from . import robustness
from .labels import label as column_label
from .labels import numeric_keys, select

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
    """The table; a forget score of a set with empty/degenerate answers is marked †. Headers:
    the suite's label or a readable name, with the better direction (:func:`.labels.label`)."""
    head = "| model | " + " | ".join(column_label(c, labels) for c in columns) + " |"
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

    if benchmark not in BENCHMARKS:  # a benchmark whose module is not imported
        return []
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


@dataclass
class RunView:
    """One run directory as the report sees it: its ``metrics.json`` and what its
    ``config.yaml`` says about the base model, scope and protocol (empty when it has none)."""

    dir: Path
    metrics: dict[str, Any]
    model: str = ""
    scope: str = ""
    protocol: str = ""

    @property
    def benchmark(self) -> str:
        return str(self.metrics.get("benchmark", ""))

    @property
    def method(self) -> str:
        return str(self.metrics.get("method", ""))

    def group(self) -> tuple[str, str, str]:
        """What rows of one table must share: benchmark, base model, protocol."""
        return self.benchmark, self.model, self.protocol

    def row_label(self) -> str:
        """``method · scope · model (run name)`` (the parts the config gives)."""
        parts = [p for p in (self.method, self.scope, self.model) if p]
        return " · ".join(parts) + f" ({self.dir.name})"


def load_run(run_dir: Path) -> RunView:
    metrics = load_metrics(run_dir)
    cfg_path = Path(run_dir) / "config.yaml"
    cfg: dict[str, Any] = {}
    if cfg_path.is_file():
        try:
            cfg = yaml.safe_load(cfg_path.read_text()) or {}
        except yaml.YAMLError:
            cfg = {}
    model = cfg.get("model") or {}
    name = str(model.get("name_or_path", ""))
    if name == "tiny":
        name = f"tiny:{model.get('tiny_preset', 'tiny')}"
    return RunView(Path(run_dir), metrics, name, str((cfg.get("unlearn") or {}).get("scope", "")),
                   str((cfg.get("eval") or {}).get("protocol", "")))  # fmt: skip


@dataclass
class Table:
    """One comparable group of runs: rows (label, run, role, metrics) and the chosen columns."""

    benchmark: str
    model: str
    protocol: str
    title: str
    rows: list[tuple[str, RunView, str, dict[str, Any]]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def pairs(self) -> list[tuple[str, dict[str, Any]]]:
        return [(lab, m) for lab, _, _, m in self.rows]


def _suite_info(benchmark: str) -> tuple[list[str], dict[str, str]]:
    try:
        return headline_columns(benchmark), column_labels(benchmark)
    except KeyError:  # a benchmark whose module is not imported: every numeric key
        return [], {}


def build_tables(run_dirs: list[Path], metrics: str = "headline") -> tuple[list[Table], str]:
    """The report's tables and a warning ("" when every run is comparable).

    Runs that differ in benchmark, base model or eval protocol go to separate tables, in the
    order their groups first appear. One run: rows target / retain / unlearned. Several: the
    first run's target and retain rows, then each run's unlearned row labelled
    ``method · scope · model (run name)``. ``metrics``: ``headline`` (the suite's columns plus
    the forget sets' empty/degenerate rates), ``all`` (every numeric key) or comma-separated
    globs (:func:`.labels.select`)."""
    runs = [load_run(Path(d)) for d in run_dirs]
    groups: dict[tuple[str, str, str], list[RunView]] = {}
    for run in runs:
        groups.setdefault(run.group(), []).append(run)
    tables = []
    for (benchmark, model, protocol), members in groups.items():
        headline, labels = _suite_info(benchmark)
        if len(runs) == 1:
            run = members[0]
            rows = [(ROLE_LABELS.get(r, r), run, r, m) for r, m in run.metrics["models"].items()]
            title = f"# {run.dir.name}: {benchmark}, method {run.method}"
        else:
            first = members[0].metrics["models"]
            rows = [(ROLE_LABELS[r], members[0], r, first[r]) for r in ("target", "retain")
                    if r in first]  # fmt: skip
            rows += [(run.row_label(), run, "unlearned", run.metrics["models"]["unlearned"])
                     for run in members if "unlearned" in run.metrics["models"]]  # fmt: skip
            title = f"# {benchmark}: {len(members)} runs"
            if len(groups) > 1:
                title += f" (model {model or '?'}, protocol {protocol or '?'})"
        pairs = [(lab, m) for lab, _, _, m in rows]
        if metrics in ("", "headline"):
            columns = list(headline) or numeric_keys(pairs)
            columns += rate_columns(pairs, columns)
        else:
            columns = select(numeric_keys(pairs), metrics)
        tables.append(Table(benchmark, model, protocol, title, rows, columns, labels))
    warning = ""
    if len(groups) > 1:
        differ = [name for i, name in enumerate(("benchmark", "base model", "protocol"))
                  if len({g[i] for g in groups}) > 1]  # fmt: skip
        warning = (f"warning: these runs differ in {', '.join(differ)}; their numbers are not "
                   f"comparable and are shown as {len(groups)} separate tables")  # fmt: skip
    return tables, warning


def _markdown(tables: list[Table], warning: str, run_dirs: list[Path]) -> str:
    lines = [f"> {warning}", ""] if warning else []
    for t in tables:
        lines += [t.title, "", markdown_table(t.pairs, t.columns, t.labels), ""]
        if notes := flag_notes(t.pairs):
            lines += [*notes, ""]
        if notes := suite_notes(t.benchmark, t.pairs):  # a suite's own lines (``report_notes``)
            lines += [*notes, ""]
    if len(run_dirs) == 1:
        timings = tables[0].rows[0][1].metrics.get("timings") if tables[0].rows else None
        if timings:
            lines += ["Stage timings (s): " + ", ".join(f"{k} {v}" for k, v in timings.items()),
                      ""]  # fmt: skip
        lines += plot_section(Path(run_dirs[0]))
        lines += robustness.report_lines(Path(run_dirs[0]))  # attacks/ (obliviate attack)
    return "\n".join(lines)


def plot_section(run_dir: Path) -> list[str]:
    """Markdown image links to the PNGs in ``<run>/plots/`` (none: no section)."""
    pngs = sorted((Path(run_dir) / "plots").glob("*.png"))
    if not pngs:
        csvs = sorted((Path(run_dir) / "plots").glob("*.csv"))
        if not csvs:
            return []
        names = ", ".join(f"plots/{p.name}" for p in csvs)
        return ["## Plots", "", f"The plotted numbers: {names} (the PNGs need matplotlib: "
                "pip install matplotlib).", ""]  # fmt: skip
    lines = ["## Plots", ""]
    for p in pngs:
        lines += [f"![{p.stem.replace('_', ' ')}](plots/{p.name}) (numbers: plots/{p.stem}.csv)",
                  ""]  # fmt: skip
    return lines


def render_report(run_dirs: list[Path], metrics: str = "headline") -> str:
    """The markdown report of one or more run directories (rows and ``metrics``:
    :func:`build_tables`; CSV / JSON / LaTeX: :func:`.export.render`). A warning about
    incomparable runs heads it and is printed on stderr."""
    tables, warning = build_tables([Path(d) for d in run_dirs], metrics)
    if warning:
        print(f"obliviate: {warning}", file=sys.stderr)
    return _markdown(tables, warning, [Path(d) for d in run_dirs])


def write_report(run_dir: Path) -> str:
    text = render_report([run_dir])
    write_atomic(Path(run_dir) / "report.md", text)
    return text
