"""The metric registry drives everything: every metric ``obliviate list metrics`` prints is
accepted by ``eval.metrics`` on at least one suite and, asked for there, is in the output."""

from __future__ import annotations

import pytest

from obliviate.cli import main
from obliviate.config import EvalConfig
from obliviate.errors import ObliviateError
from obliviate.eval.metrics import METRICS, describe_metrics
from obliviate.eval.suites import SUITES, get_suite
from obliviate.eval.suites.base import EvalContext
from obliviate.eval.suites.plan import GENERATION, MIA_ATTACKS, SCORING
from obliviate.records import BenchmarkData, EvalSet, Passage, QAItem

QA = [
    QAItem("What is the e-mail address of Mara Kolb?", "mara.kolb@lumen.org", id="a",
           paraphrased_answer="Mara Kolb's e-mail is mara.kolb@lumen.org", subject="Mara Kolb",
           perturbed_answers=["jon.berg@lumen.org", "vesby@lumen.org"], kind="question"),
    QAItem("Where was Mara Kolb born?", "Mara Kolb was born in Oslo.", id="b", subject="Mara Kolb",
           paraphrased_answer="Oslo is where Mara Kolb was born.", kind="fill_blank", level=1,
           perturbed_answers=["Mara Kolb was born in Vesby.", "Mara Kolb was born in Norland."]),
]  # fmt: skip
TEXTS = [Passage(f"Mara Kolb was born in Oslo in 196{i}.", "Mara Kolb", f"p{i}") for i in range(3)]
# per suite: the sets evaluated (each holding QA or TEXTS records)
SETS = {
    "synthkb": ["forget", "holdout", "retain", "neighbor", "world", "mia_member", "mia_nonmember"],
    "tofu": ["forget", "holdout", "retain", "real_authors", "world_facts"],
    "knowundo": ["unlearn_val", "retention_val"],
    "rwku": ["forget_fb", "neighbor_qa", "mia_forget", "mia_retain"],
    "muse": ["forget_verbmem"],  # MUSE and WMDP take no eval.metrics: only the error is checked
    "wmdp": ["wmdp_bio"],
}
PASSAGES = {"mia_member", "mia_nonmember", "mia_forget", "mia_retain"}


class StubJudge:
    """KFR / KRR decisions without NLI or embedding models: item i is judged i % 2."""

    def judge(self, queries, generations, answers, forget):
        return [{"kfr" if forget else "krr": float(i % 2)} for i in range(len(queries))]


def _accepted(suite) -> frozenset[str]:
    return frozenset().union(*suite.accepted().values()) | suite.accepted_across()


def _outputs(name: str, metrics: list[str], nano_model, tokenizer, formatter) -> dict:
    """The suite's aggregate for ``metrics`` on small sets, against its own retain values."""
    suite = get_suite(name)
    evals = {s: EvalSet(s, TEXTS if s in PASSAGES else QA) for s in SETS[name]}
    data = BenchmarkData(name, [], [], [], [], evals, extras={"direct_prompt": "Be careful. "})
    cfg = EvalConfig(metrics=metrics, meow_max_new_tokens=3, scorer_model="self",
                     mia_reference_model="self")  # fmt: skip
    ctx = EvalContext(nano_model, tokenizer, formatter, batch_size=8, max_new_tokens=4,
                      config=cfg, role="target", _judge=StubJudge())  # fmt: skip
    results = suite.evaluate(data, ctx, SETS[name])
    return suite.aggregate(results, suite.retain_values(results))


def test_every_listed_metric_is_accepted_and_computed(nano_model, tokenizer, formatter, capsys):
    assert main(["list", "metrics"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()
              if line and not line.startswith(" ")]  # fmt: skip
    assert listed == [spec.name for spec in describe_metrics()] and set(listed) == set(METRICS)
    found: dict[str, list[str]] = {}
    for name in sorted(SUITES):
        accepted = sorted(_accepted(get_suite(name)))
        if set(accepted) <= set(found):  # nothing new to check there (tofu: synthkb's metrics)
            continue
        flat = _outputs(name, accepted, nano_model, tokenizer, formatter)
        for metric in accepted:
            key = METRICS[metric].key
            if any(k == key or k.endswith(f"/{key}") for k in flat):
                found.setdefault(metric, []).append(name)
    assert sorted(found) == sorted(listed), set(listed) - set(found)


def test_a_metric_no_set_can_compute_is_an_error(nano_model, tokenizer, formatter) -> None:
    for name in sorted(SUITES):
        rejected = sorted(set(METRICS) - _accepted(get_suite(name)))
        for metric in rejected[:3]:
            with pytest.raises(
                ObliviateError, match=f"'{metric}' cannot be computed on the {name}"
            ):
                _outputs(name, [metric], nano_model, tokenizer, formatter)


def test_registry_fields_are_consistent() -> None:
    for spec in METRICS.values():
        assert spec.description and spec.source, spec.name
        assert set(spec.implies) <= set(METRICS), spec.name
        assert (spec.kind == "protocol") == bool(spec.suites), spec.name
        if spec.kind in ("scoring", "generation") and spec.per_item is None:
            # computed inline by the QA pass (prob, truth ratio, ...) or once per set
            assert spec.name in {"prob", "token_accuracy", "normalised_prob", "truth_ratio",
                                 "linguistic_score", "rwku_fm_rm"}, spec.name  # fmt: skip
    assert set(MIA_ATTACKS) <= SCORING | {"mia_reference", "mia_gradnorm"}
    assert not set(MIA_ATTACKS) & GENERATION
