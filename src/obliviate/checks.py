"""Validation before work (issue 14): what a config can be checked for at load, and what the
benchmark's records can be checked for before any model is built.

At load (:func:`obliviate.config.load_config` runs the validators registered here):

- ``eval``: ``batch_size``, ``max_new_tokens``, ``meow_max_new_tokens``, ``lm_eval.batch_size``
  >= 1; ``eval.models`` a non-empty list of run roles (target, retain, unlearned);
- ``finetune.enabled=false`` with ``finetune.retain_model=true`` (no retain model can be made);
- the method's parameters: the ranges its ``Params`` declare in ``RANGES`` (``"> 0"``,
  ``">= 0"``, ``"[0, 1]"``, ``"(0, 1]"``, ``"required"``) and its constructor's own checks
  (e.g. PDU's ``epsilon``), so a wrong value fails before any fine-tuning;
- ``run.out_dir`` writable (its first existing ancestor), ``run.base_run`` a run directory.

Before any model is built (:func:`preflight`, called by the CLI): the training data each stage
reads is non-empty, and forget / retain overlap (identical sets: an error; some shared
records: a note with the count).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from .config import validator
from .errors import ObliviateError

MODEL_ROLES = ("target", "retain", "unlearned")


@validator
def _check_eval_keys(cfg: Any) -> None:
    ec = cfg.eval
    for key, value in (("eval.batch_size", ec.batch_size),
                       ("eval.max_new_tokens", ec.max_new_tokens),
                       ("eval.meow_max_new_tokens", ec.meow_max_new_tokens),
                       ("eval.lm_eval.batch_size", ec.lm_eval.batch_size)):  # fmt: skip
        if value < 1:
            raise ObliviateError(f"{key}={value}; accepted: an integer >= 1")
    if not ec.models:
        raise ObliviateError(
            f"eval.models=[] evaluates nothing; accepted: a list of {', '.join(MODEL_ROLES)}"
        )
    for role in ec.models:
        if role not in MODEL_ROLES:
            from .errors import did_you_mean

            raise ObliviateError(
                f"eval.models: {role!r} is unknown; {did_you_mean(role, MODEL_ROLES)}"
            )


@validator
def _check_finetune_enabled(cfg: Any) -> None:
    if not cfg.finetune.enabled and cfg.finetune.retain_model:
        raise ObliviateError(
            "finetune.enabled=false with finetune.retain_model=true: no retain model can be "
            "made; accepted: finetune.retain_model=false (and eval.models without retain)"
        )


def _in_range(value: Any, spec: str) -> bool:
    spec = spec.replace(" ", "")
    if spec.startswith((">=", ">")):
        bound = float(spec.lstrip(">="))
        return value >= bound if spec.startswith(">=") else value > bound
    lo_open, hi_open = spec[0] == "(", spec[-1] == ")"
    lo, hi = (float(x) for x in spec[1:-1].split(","))
    return (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)


def check_params(method_cls: type, params: dict[str, Any]) -> None:
    """The ranges ``method_cls.Params.RANGES`` declares, on the given values and defaults."""
    ranges: dict[str, str] = {}
    for klass in reversed(method_cls.Params.__mro__):  # a subclass's RANGES extend its bases'
        ranges.update(vars(klass).get("RANGES", {}))
    values = {f.name: f.default for f in dataclasses.fields(method_cls.Params)} | dict(params)
    for key, spec in ranges.items():
        value = values.get(key)
        if spec == "required":
            if value is None:
                raise ObliviateError(
                    f"method {method_cls.name!r} needs unlearn.params.{key} (no default); "
                    f"accepted: a number, e.g. unlearn.params.{key}=0.3"
                )
            continue
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue  # the type check names a wrong type
        if not _in_range(value, spec):
            raise ObliviateError(
                f"unlearn.params.{key}={value} is out of range for method {method_cls.name!r}; "
                f"accepted: {spec}"
            )


@validator
def _check_method_ranges(cfg: Any) -> None:
    from .methods import get_method_class

    cls = get_method_class(cfg.unlearn.method)
    params = dict(cfg.unlearn.params)
    cls.validate_params(params)
    check_params(cls, params)
    cls(params)  # the constructor's own checks (e.g. a required parameter), before any work


@validator
def _check_out_dir(cfg: Any) -> None:
    out = Path(cfg.run.out_dir).expanduser()
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ObliviateError(
            f"run.out_dir={cfg.run.out_dir}: {probe} is a file; accepted: a directory"
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ObliviateError(
            f"run.out_dir={cfg.run.out_dir}: {probe} is not writable; accepted: a writable "
            "directory (e.g. run.out_dir=runs)"
        )


def _key(rec: Any) -> str:
    """A record's content (its type and texts; ids and metadata differ between lists)."""
    from .records import record_texts

    return json.dumps([type(rec).__name__, record_texts(rec)])


def preflight(rd: Any) -> None:
    """Checks of the benchmark's records before any model is built (see the module docstring);
    ``rd``: the :class:`~obliviate.run_dir.RunDir`."""
    from .methods import get_method_class

    cfg = rd.cfg
    data = rd.data.get()
    where = f"benchmark {cfg.benchmark.name!r}" + (
        f" (benchmark.path={cfg.benchmark.path})" if getattr(cfg.benchmark, "path", "") else ""
    )
    method = get_method_class(cfg.unlearn.method)(dict(cfg.unlearn.params))
    if cfg.finetune.enabled and not data.finetune:
        raise ObliviateError(f"{where}: the fine-tuning set is empty; accepted: >= 1 record")
    if cfg.finetune.enabled and cfg.finetune.retain_model and not data.finetune_retain:
        raise ObliviateError(
            f"{where}: the retain model's fine-tuning set is empty; accepted: >= 1 record, or "
            "finetune.retain_model=false"
        )
    if method.trains and not data.forget:
        raise ObliviateError(f"{where}: the forget set is empty; accepted: >= 1 record")
    if method.uses_retain() and not data.retain:
        raise ObliviateError(
            f"{where}: the retain set is empty but method {method.name!r} trains on it; "
            "accepted: >= 1 retain record (or unlearn.params.retain_loss=none)"
        )
    forget = {_key(r) for r in data.forget}
    retain = {_key(r) for r in data.retain}
    shared = len(forget & retain)
    if forget and forget == retain:
        raise ObliviateError(
            f"{where}: the forget and retain sets are the same {len(forget)} records; accepted: "
            "distinct sets (the retain set is what unlearning must keep)"
        )
    if shared:
        print(f"obliviate: note: {where}: {shared} of {len(forget)} forget records are also "
              "retain records", file=sys.stderr)  # fmt: skip
