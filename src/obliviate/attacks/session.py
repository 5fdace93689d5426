"""What every attack shares: the run's models (a fresh copy per attack), the forget-side
evaluation of a (possibly rewritten) benchmark, and its per-item rows.

The forget-side evaluation is the run's own suite restricted to the forget-side sets
(:func:`obliviate.attacks.score.forget_side`), with the suite's default metrics and no retain
values (so no forget quality: it compares whole forget sets against the retain model's).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from ..benchmarks import BENCHMARKS
from ..eval.suites import get_suite
from ..eval.suites.base import EvalContext, SetResult
from ..formatting import Formatter
from ..io import write_jsonl
from ..methods import get_method_class
from ..models.batches import eval_mode
from ..records import BenchmarkData, EvalSet, Record
from ..run_dir import RunDir
from ..run_models import RunModels
from ..stages import ensure_model
from .score import forget_side


def with_sets(data: BenchmarkData, sets: dict[str, list[Record]]) -> BenchmarkData:
    """``data`` with the named eval sets' records replaced (the rest shared, not copied)."""
    eval_sets = dict(data.eval_sets)
    for name, records in sets.items():
        eval_sets[name] = EvalSet(name, list(records))
    return dataclasses.replace(data, eval_sets=eval_sets)


class AttackSession:
    """One run's models and forget-side evaluation, shared by the attacks of one invocation."""

    def __init__(self, rd: RunDir, models: RunModels):
        self.rd, self.models, self.cfg = rd, models, rd.cfg
        self.data = rd.data.get()
        self.suite = get_suite(BENCHMARKS[self.cfg.benchmark.name].suite)
        self.sets, self.metric = forget_side(
            self.suite, self.cfg.attack.sets, self.cfg.attack.metric
        )
        self.sets = [s for s in self.sets if self._source(s) in self.data.eval_sets]
        roles = [
            r for r in self.cfg.attack.models if r != "retain" or self.cfg.finetune.retain_model
        ]
        self.roles = [
            r for r in ("target", "retain", "unlearned") if r in roles or r == "unlearned"
        ]
        if "target" not in self.roles:
            self.roles.insert(0, "target")  # the recovery's denominator
        self._clean: dict[str, dict[str, Any]] = {}

    def _source(self, name: str) -> str:
        """The data set an eval set reads (KnowUnDo's ``*_dp`` sets read their base set)."""
        return name.removesuffix("_dp") if name not in self.data.eval_sets else name

    @property
    def attack_dir(self) -> Path:
        return self.rd.dir / "attacks"

    def load(self, role: str) -> tuple[torch.nn.Module, Any]:
        """A fresh copy of a run model (an attack may change its weights)."""
        ensure_model(self.rd, self.models, role)
        return self.models.load(role)

    def formatter(self, tok: Any) -> Formatter:
        return self.models.formatter(tok)

    def records(self, data: BenchmarkData | None = None) -> dict[str, list[Record]]:
        """The records of the data sets the forget-side sets read, by data set name."""
        d = data or self.data
        names = dict.fromkeys(self._source(s) for s in self.sets)
        return {name: list(d.eval_sets[name].records) for name in names}

    def evaluate(
        self,
        role: str,
        model: torch.nn.Module,
        tok: Any,
        data: BenchmarkData | None = None,
        formatter: Formatter | None = None,
        rows_dir: Path | None = None,
    ) -> dict[str, Any]:
        """Forget-side metrics of ``model`` (run role ``role``) on ``data`` (default: the
        run's benchmark); per-item rows to ``rows_dir/<set>.jsonl`` when given."""
        cfg, data = self.cfg, data or self.data
        sets = [s for s in self.sets if data.eval_sets[self._source(s)].records]
        ec = dataclasses.replace(cfg.eval, sets=sets, metrics=[],
                                 lm_eval=dataclasses.replace(cfg.eval.lm_eval, tasks=[]))  # fmt: skip
        ctx = EvalContext(
            model, tok, formatter or self.formatter(tok), ec.batch_size, ec.max_new_tokens,
            self.models.device, config=ec, load_model=self.models.load_any, role=role,
        )  # fmt: skip
        if role == "unlearned":  # in-context methods prompt the unlearned model
            method = get_method_class(cfg.unlearn.method)(dict(cfg.unlearn.params))
            method.prepare_eval(data)
            ctx.prefix = method.eval_prefix
        with eval_mode(model):
            results: dict[str, SetResult] = self.suite.evaluate(data, ctx, sets)
        if rows_dir is not None:
            for name, res in results.items():
                write_jsonl(rows_dir / f"{name}.jsonl", res.items)
        return self.suite.aggregate(results, None)

    def clean(self, role: str) -> dict[str, Any]:
        """The unattacked model's forget-side metrics on the full sets (computed once)."""
        if role not in self._clean:
            model, tok = self.load(role)
            self._clean[role] = self.evaluate(role, model, tok,
                                              rows_dir=self.attack_dir / "clean" / role)  # fmt: skip
            del model
        return self._clean[role]

    def clean_all(self) -> dict[str, dict[str, Any]]:
        return {role: self.clean(role) for role in self.roles}
