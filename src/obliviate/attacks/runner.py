"""``obliviate attack``: run the configured attacks on a finished run and write
``attacks/<kind>/metrics.json`` (+ per-item rows under ``attacks/<kind>/``) and the report's
robustness table.

Each kind module's ``run(session)`` returns ``{"clean": {role: metrics}, "variants": {name:
{"models": {role: metrics}, ...}}, "settings": {...}}``; the runner scores every variant
(:func:`obliviate.attacks.score.score_variant`) and writes one file per kind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import load_config, to_dict, to_yaml
from ..errors import ObliviateError
from ..io import write_atomic, write_json
from ..report.tables import write_report
from ..run_dir import RunDir, differing_keys, flat
from ..run_models import RunModels
from . import latent, prompt, quantize, relearn
from .score import score_variant, worst
from .session import AttackSession

ATTACKS: dict[str, Callable[[AttackSession], dict[str, Any]]] = {
    "relearn": relearn.run,
    "quantize": quantize.run,
    "prompt": prompt.run,
    "latent": latent.run,
}


def _is_attack_key(key: str) -> bool:
    return key.startswith("attack.") or key == "eval.attacks"


def open_run(cfg: Any) -> RunDir:
    """The finished run directory of ``cfg`` for attacking: its ``config.yaml`` must describe
    the same run (attack settings aside), which is then rewritten with this config's attack
    settings, so the run's ``metrics.json`` stays where it is."""
    name = cfg.run.name or f"{cfg.benchmark.name}_{cfg.unlearn.method}"
    run_dir = Path(cfg.run.out_dir) / name
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise ObliviateError(
            f"obliviate attack: {run_dir} is not a run directory (no config.yaml); run "
            "`obliviate run` with the same config first"
        )
    there = {k: v for k, v in flat(to_dict(load_config(path))).items() if not _is_attack_key(k)}
    here = {k: v for k, v in flat(to_dict(cfg)).items() if not _is_attack_key(k)}
    diff = differing_keys(there, here)
    if diff:
        shown = "; ".join(diff[:6]) + (f"; and {len(diff) - 6} more" if len(diff) > 6 else "")
        raise ObliviateError(
            f"obliviate attack: the config differs from the one of {run_dir} ({shown}); attack a "
            "run with its own config (plus attack.* keys)"
        )
    text = to_yaml(cfg)
    if path.read_text() != text:
        write_atomic(path, text)  # only attack keys differ: metrics.json still describes it
    return RunDir(cfg)


def run_attacks(rd: RunDir, models: RunModels, kinds: list[str] | None = None) -> dict[str, Any]:
    """Run ``kinds`` (default ``attack.kinds``) on the run; returns the documents written."""
    kinds = list(kinds or rd.cfg.attack.kinds)
    if not (rd.dir / "metrics.json").is_file():
        raise ObliviateError(
            f"obliviate attack: {rd.dir} has no metrics.json; finish the run first"
        )
    session = AttackSession(rd, models)
    docs: dict[str, Any] = {}
    for kind in kinds:
        t0 = time.perf_counter()
        out = ATTACKS[kind](session)
        metric = out.get("metric", session.metric)
        scored = {name: score_variant(metric, out["clean"], v["models"])
                  for name, v in out["variants"].items() if "models" in v}  # fmt: skip
        best, value = worst(scored)
        doc = {
            "kind": kind,
            "benchmark": rd.cfg.benchmark.name,
            "method": rd.cfg.unlearn.method,
            "metric": metric,
            "sets": session.sets,
            "settings": out.get("settings", {}),
            "recovery": scored,
            "worst": {"variant": best, "recovery": value},
            "clean": out["clean"],
            "variants": out["variants"],
            "seconds": round(time.perf_counter() - t0, 3),
            # the unlearned model attacked: the report shows the file only while it is current
            "unlearn_fingerprint": (rd.record("unlearn") or {}).get("fingerprint"),
        }
        write_json(session.attack_dir / kind / "metrics.json", doc)
        docs[kind] = doc
    write_report(rd.dir)
    return docs
