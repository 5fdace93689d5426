"""The robustness table of a run: one row per attack variant (``attacks/<kind>/metrics.json``,
written by :mod:`obliviate.attacks`), with the recovery of the unlearned model and the retain
("gold") model's value under the same attack beside it.

recovery = (attacked − unlearned) / (target − unlearned) on the attack's forget metric
(:mod:`obliviate.attacks.score`); Δ = attacked − clean for the unlearned and the gold model (what
the attack brings back in each; ``gold_recovery`` stays in the JSON).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KIND_ORDER = ("relearn", "quantize", "prompt", "latent")
HEAD = ["attack", "metric", "target", "unlearned", "attacked", "Δ", "recovery",
        "retain (gold)", "gold attacked", "gold Δ"]  # fmt: skip
CELLS = ("target", "unlearned", "attacked_unlearned", "delta_unlearned", "recovery", "retain",
         "attacked_retain", "delta_retain")  # fmt: skip


def _unlearn_fingerprint(run_dir: Path) -> str | None:
    try:
        return json.loads((Path(run_dir) / "stages" / "unlearn.json").read_text())["fingerprint"]
    except (OSError, ValueError, KeyError):
        return None


def load_attacks(run_dir: Path) -> dict[str, dict[str, Any]]:
    """``attacks/<kind>/metrics.json`` of a run, by kind (the known kinds first); a file made
    on another unlearned model than the run's current one (its ``unlearn_fingerprint``) is
    left out: a rerun with other unlearning settings never shows an old model's robustness."""
    current = _unlearn_fingerprint(run_dir)
    root = Path(run_dir) / "attacks"
    found = {p.parent.name: p for p in sorted(root.glob("*/metrics.json"))}
    order = [k for k in KIND_ORDER if k in found] + [k for k in found if k not in KIND_ORDER]
    out = {}
    for kind in order:
        try:
            doc = json.loads(found[kind].read_text())
        except (OSError, ValueError):
            continue
        made_on = doc.get("unlearn_fingerprint")
        if made_on is None or current is None or made_on == current:
            out[kind] = doc
    return out


def rows(run_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """(``kind/variant``, its recovery row) for every attack variant of the run."""
    return [(f"{kind}/{name}", row) for kind, doc in load_attacks(run_dir).items()
            for name, row in (doc.get("recovery") or {}).items()]  # fmt: skip


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def table(run_dir: Path) -> str:
    """The markdown robustness table ('' when the run has no attack results)."""
    found = rows(run_dir)
    if not found:
        return ""
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    for label, r in found:
        cells = [label, r.get("metric", ""), *(_fmt(r.get(k)) for k in CELLS)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def worst(run_dir: Path) -> tuple[str | None, float | None]:
    """The attack variant with the largest recovery, and that recovery (None: no attacks)."""
    scored = [(label, r["recovery"]) for label, r in rows(run_dir) if r.get("recovery") is not None]
    return max(scored, key=lambda x: x[1]) if scored else (None, None)


def report_lines(run_dir: Path) -> list[str]:
    """The report's robustness section (no lines when the run has no attack results)."""
    text = table(run_dir)
    if not text:
        return []
    return [
        "## Robustness (obliviate attack)",
        "",
        "recovery = (attacked − unlearned) / (target − unlearned) on the forget metric: 0 = "
        "nothing comes back, 1 = the target's level; Δ = attacked − clean, for the unlearned "
        "and the retain (gold) model under the same attack (relearn: held-out items only; "
        "latent: top-1 rate of the gold answer's first value token, last layer vs best layer).",
        "",
        text,
        "",
    ]
