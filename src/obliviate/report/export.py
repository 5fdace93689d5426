"""The report's tables as CSV, JSON or LaTeX (``obliviate report --format csv|json|latex``).

- CSV: one row per model row of every table, long enough for pandas: ``table`` (the group's
  index), ``benchmark``, ``base_model``, ``protocol``, ``run``, ``role``, ``method``, ``scope``,
  ``label``, then one column per metric key (raw keys, so a script can select them; numbers in
  full precision, ``repr`` of the float: they round-trip ``metrics.json`` exactly);
- JSON: ``{"tables": [{benchmark, base_model, protocol, columns: [{key, label}], rows: [{label,
  run, role, method, scope, metrics}]}]}``;
- LaTeX: one ``booktabs`` ``tabular`` per table, headers the readable labels with ``$\\uparrow$``
  / ``$\\downarrow$``, numbers as in the markdown (3 decimals, scientific below 1e-3).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import ObliviateError
from .labels import DOWN, UP, label
from .tables import Table, _fmt, build_tables, render_report

META = ["table", "benchmark", "base_model", "protocol", "run", "role", "method", "scope", "label"]


def _number(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else value


def to_csv(tables: list[Table]) -> str:
    keys = list(dict.fromkeys(c for t in tables for c in t.columns))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*META, *keys])
    for i, t in enumerate(tables):
        for lab, run, role, m in t.rows:
            meta = [i, t.benchmark, t.model, t.protocol, run.dir.name, role, run.method,
                    run.scope, lab]  # fmt: skip
            writer.writerow(meta + [_number(m.get(k)) if k in t.columns else "" for k in keys])
    return buf.getvalue()


def to_json(tables: list[Table]) -> str:
    out = {"tables": [{
        "benchmark": t.benchmark, "base_model": t.model, "protocol": t.protocol,
        "columns": [{"key": c, "label": label(c, t.labels)} for c in t.columns],
        "rows": [{"label": lab, "run": run.dir.name, "role": role, "method": run.method,
                  "scope": run.scope, "metrics": {c: m.get(c) for c in t.columns}}
                 for lab, run, role, m in t.rows],
    } for t in tables]}  # fmt: skip
    return json.dumps(out, indent=2, allow_nan=True)


LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                 "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                 "^": r"\textasciicircum{}"}  # fmt: skip


def latex_escape(text: str) -> str:
    """``text`` safe in a LaTeX cell; the arrows as math symbols, † as ``\\dag``."""
    out = "".join(LATEX_SPECIAL.get(ch, ch) for ch in text)
    return (out.replace(UP, r"$\uparrow$").replace(DOWN, r"$\downarrow$")
            .replace("†", r"\dag{}").replace("‼", "!!").replace("·", r"$\cdot$"))  # fmt: skip


def to_latex(tables: list[Table]) -> str:
    blocks = []
    for t in tables:
        head = ["model", *[label(c, t.labels) for c in t.columns]]
        lines = [f"% {t.title.lstrip('# ')}", r"\begin{tabular}{l" + "r" * len(t.columns) + "}",
                 r"\toprule", " & ".join(latex_escape(h) for h in head) + r" \\", r"\midrule"]  # fmt: skip
        for lab, _, _, m in t.rows:
            cells = [latex_escape(lab), *[latex_escape(_fmt(m.get(c))) for c in t.columns]]
            lines.append(" & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


FORMATS = ("md", "csv", "json", "latex")


def render(run_dirs: list[Path], metrics: str = "headline", fmt: str = "md") -> str:
    """The report in ``fmt``: md (:func:`.tables.render_report`), csv, json or latex; a warning
    about incomparable runs goes to stderr (and heads the markdown)."""
    if fmt not in FORMATS:
        raise ObliviateError(f"report --format {fmt!r} is unknown; accepted: {', '.join(FORMATS)}")
    if fmt == "md":
        return render_report(run_dirs, metrics)
    tables, warning = build_tables([Path(d) for d in run_dirs], metrics)
    if warning:
        print(f"obliviate: {warning}", file=sys.stderr)
    return {"csv": to_csv, "json": to_json, "latex": to_latex}[fmt](tables)
