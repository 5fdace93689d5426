"""MUSE's scalability and sustainability studies as sweeps of runs (Shi et al. 2024, section 5;
swj0419/muse_bench ``baselines/scripts/unlearn_news_scal.sh``, ``unlearn_news_sust.sh``).

``obliviate sweep scal|sust [CONFIG] [key=value ...] --folds 1,2,3,4`` runs one run per fold,
``<run.name>_<kind><k>`` in ``run.out_dir``:

- ``scal`` (nested forget sets of growing size): every fold unlearns the same target on
  ``benchmark.fold=scal/<k>``; folds after the first share the first one's target and retain
  models (``run.base_run``), so only unlearning and evaluation are repeated.
- ``sust`` (disjoint forget sets unlearned one after another): fold k unlearns ``sust/<k>``
  starting from fold k−1's unlearned model (``model.name_or_path=<previous>/models/unlearned``,
  ``finetune.enabled=false``, no retain model, only the unlearned model evaluated: its target
  is the previous fold's row); PrivLeak's reference AUC stays the first fold's retain model's
  (``benchmark.auc_retrain``) when that fold evaluated one.

``epochs`` is MUSE's checkpoint choice (``baselines/scripts``: 10 epochs, a checkpoint each,
the first whose KnowMem on D_f is at or below the retrained model's): one run per epoch count
(``unlearn.epochs=<k>``, sharing the first run's target), stopping at the first that qualifies
(``--knowmem-max``, default the run's retain model's); the folds are epoch counts.

After every fold the unlearned model's MUSE columns (VerbMem / KnowMem on the forget set,
PrivLeak, KnowMem on the retain set = utility) go into ``<run.name>_<kind>/sweep.json`` and
``sweep.md``, after the first fold's target row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import load_config
from .errors import ObliviateError
from .io import write_atomic, write_json
from .pipeline import Run
from .run_dir import release_lock

KINDS = ("scal", "sust", "epochs")
COLUMNS = ("forget_verbmem", "forget_knowmem", "privleak", "retain_knowmem")


def parse_folds(spec: str, kind: str = "scal") -> list[int]:
    """``"1,2"`` -> [1, 2]: folds 1-4 (scal, sust) or increasing epoch counts (epochs)."""
    try:
        folds = [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        folds = []
    if kind == "epochs":
        if not folds or folds[0] < 1 or any(b <= a for a, b in zip(folds, folds[1:])):
            raise ObliviateError(f"--folds {spec!r}: accepted: increasing epoch counts, e.g. 1,2,3")
        return folds
    if not folds or any(not 1 <= k <= 4 for k in folds) or len(set(folds)) != len(folds):
        raise ObliviateError(f"--folds {spec!r}: accepted: distinct fold numbers 1-4, e.g. 1,2")
    return folds


def fold_overrides(kind: str, k: int, name: str, first: Path | None, prev: Path | None,
                   auc: float | None) -> list[str]:  # fmt: skip
    """The overrides of fold ``k`` on top of the user's (see the module docstring)."""
    if kind == "epochs":
        out = [f"unlearn.epochs={k}", f"run.name={name}_epochs{k}"]
        return out + ([f"run.base_run={first}"] if first is not None else [])
    out = [f"benchmark.fold={kind}/{k}", f"run.name={name}_{kind}{k}"]
    if kind == "scal" and first is not None:
        out.append(f"run.base_run={first}")
    if kind == "sust" and prev is not None:
        out += [f"model.name_or_path={prev / 'models' / 'unlearned'}", "finetune.enabled=false",
                "finetune.retain_model=false", "eval.models=[unlearned]"]  # fmt: skip
        if auc is not None:
            out.append(f"benchmark.auc_retrain={auc}")
    return out


def run_sweep(
    kind: str,
    path: str | None,
    overrides: list[str],
    folds: list[int],
    knowmem_max: float | None = None,
) -> dict[str, Any]:
    """Run the folds of ``kind`` and write ``sweep.json`` / ``sweep.md``; returns the sweep.

    ``epochs``: stop at the first epoch count whose KnowMem on D_f is at most ``knowmem_max``
    (default: the retain model's, evaluated in the first run), recorded as ``chosen``."""
    if kind not in KINDS:
        raise ObliviateError(f"sweep {kind!r}: accepted: {', '.join(KINDS)}")
    cfg = load_config(path, overrides)
    if cfg.benchmark.name != "muse":
        raise ObliviateError(
            f"obliviate sweep {kind}: benchmark.name={cfg.benchmark.name!r}; the sweeps are "
            "MUSE's (benchmark.name=muse)"
        )
    name = cfg.run.name or f"{cfg.benchmark.name}_{cfg.unlearn.method}"
    out_dir = Path(cfg.run.out_dir).expanduser()
    first: Path | None = None
    prev: Path | None = None
    auc: float | None = None
    rows: list[dict[str, Any]] = []
    chosen: int | None = None
    for k in folds:
        fold_cfg = load_config(path, [*overrides, *fold_overrides(kind, k, name, first, prev, auc)])
        run = Run(fold_cfg)
        metrics = run.run_all()
        models = metrics["models"]
        if not rows and "target" in models:
            rows.append({"fold": 0, "model": "target", "run": str(run.dir),
                         **{c: models["target"].get(c) for c in COLUMNS}})  # fmt: skip
        if auc is None and "retain" in models:
            auc = models["retain"].get("privleak_auc")
        rows.append({"fold": k, "model": "unlearned", "run": str(run.dir),
                     "forget_size": len(run.data.forget),
                     **{c: models["unlearned"].get(c) for c in COLUMNS}})  # fmt: skip
        release_lock(run.dir)
        first = first or run.dir
        prev = run.dir
        if kind == "epochs":
            if knowmem_max is None:
                knowmem_max = models.get("retain", {}).get("forget_knowmem")
            if knowmem_max is None:
                raise ObliviateError(
                    "obliviate sweep epochs: --knowmem-max (the retrained model's KnowMem on D_f, "
                    "x100) or a retain model evaluated in the run (finetune.retain_model=true, "
                    "eval.sets with forget_knowmem) is needed"
                )
            value = models["unlearned"].get("forget_knowmem")
            if value is not None and value <= knowmem_max:
                chosen = k  # MUSE: the first checkpoint at or below the retrained model
                break
    sweep = {"kind": kind, "folds": folds, "rows": rows}
    if kind == "epochs":
        sweep |= {"knowmem_max": knowmem_max, "chosen": chosen}
    target = out_dir / f"{name}_{kind}"
    target.mkdir(parents=True, exist_ok=True)
    write_json(target / "sweep.json", sweep)
    write_atomic(target / "sweep.md", sweep_table(sweep))
    return sweep


def sweep_table(sweep: dict[str, Any]) -> str:
    """Markdown: one row per fold (after the target), MUSE's four columns."""
    from .eval.suites.muse import LABELS

    title = {"scal": "scalability (nested folds)", "sust": "sustainability (sequential folds)",
             "epochs": "checkpoint choice (unlearn.epochs)"}  # fmt: skip
    head = "| fold | model | |D_f| | " + " | ".join(LABELS[c] for c in COLUMNS) + " |"
    lines = [f"# MUSE {title[sweep['kind']]}", "", head, "|---|---|---|" + "---|" * len(COLUMNS)]
    for row in sweep["rows"]:
        cells = [f"{row[c]:.2f}" if isinstance(row.get(c), float) else "–" for c in COLUMNS]
        size = str(row.get("forget_size", "–"))
        lines.append(f"| {row['fold']} | {row['model']} | {size} | " + " | ".join(cells) + " |")
    if sweep["kind"] == "epochs":
        pick = sweep.get("chosen")
        lines += ["", f"Chosen (first with KnowMem on D_f <= {sweep.get('knowmem_max')}): "
                  + (f"unlearn.epochs={pick}" if pick is not None else "none")]  # fmt: skip
    return "\n".join([*lines, ""])
