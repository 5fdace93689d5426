"""Issue 19 items 4-6: the training step a method takes follows ``eval.protocol``.

- gd / ga_kl on KnowUnDo (item 4): ``paper`` trains on KnowUnDo's one interleaved stream,
  forget item i (factor -1) then retain item i (+1) for the first |D_f| retain items
  (zjunlp/KnowUnDo @ 92aea2b83765a89e52600393c1bfc7f28c4db494
  ``llm_unlearn/utils/ascent_plus_descent_tokenizer.py`` lines 33-53), loss
  ``(loss_i * factors).mean()`` over per-item token-mean NLL (``llm_unlearn/methods/
  ascent_plus_descent.py`` lines 19-34) or ``-outputs.loss`` on forget rows + ``compute_kl`` over
  every position of retain rows (``ascent_plus_KLdivergence.py`` lines 18-35, 83-87).
- PDU (item 5): ``paper`` moves λ after every micro-batch's loss with that micro-batch's retain
  loss (locuslab/open-unlearning @ d3d7cf9e6b3c125d16687d4232680d8d83548f1a
  ``src/trainer/unlearn/pdu.py`` lines 48-62: the loss uses λ before the update); ``fixed`` once
  per optimizer step.
- RMU (item 6): without an explicit ``reduction``, ``paper`` uses open-unlearning's
  ``mean(S)·mean(1/N)`` (``src/trainer/unlearn/rmu.py`` lines 108-117), ``fixed`` the formula.

Every expected value is computed by hand from those lines; on the code before the change
(paired batches, per-step λ, per-item RMU whatever the protocol) each test fails.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from obliviate.config import load_config
from obliviate.methods import Context, get_method_class
from obliviate.methods.ascent import soft_ce_all_positions
from obliviate.methods.base import training_protocol
from obliviate.records import BenchmarkData, QAItem

FORGET = [QAItem(f"Forget question {i}?", f"forget answer {i}", id=f"f{i}") for i in range(3)]
RETAIN = [QAItem(f"Retain question {i}?", f"retain answer {i}", id=f"r{i}") for i in range(5)]


def _data(name: str) -> BenchmarkData:
    return BenchmarkData(name, [], [], list(FORGET), list(RETAIN), {})


def _method(name: str, protocol: str, params: dict | None = None):
    method = get_method_class(name)(params or {})
    method.protocol = protocol
    return method


def test_gd_on_knowundo_paper_is_one_interleaved_stream(formatter):
    gd = _method("gd", "paper")
    items = gd.build_forget(FORGET, formatter, _data("knowundo"))
    expected = []
    for f, r in zip(FORGET, RETAIN):  # retain i after forget i; retain 3, 4 are never used
        expected += [formatter.encode_record(f), formatter.encode_record(r)]
    assert items == expected
    assert gd.factors.tolist() == [-1.0, 1.0] * 3
    assert not gd.uses_retain()  # no paired retain batch: the retain items are in the stream


@pytest.mark.parametrize(("protocol", "bench"), [("fixed", "knowundo"), ("paper", "tofu")])
def test_gd_elsewhere_keeps_paired_batches(formatter, protocol, bench):
    gd = _method("gd", protocol)
    assert gd.build_forget(FORGET, formatter, _data(bench)) == [
        formatter.encode_record(r) for r in FORGET
    ]
    assert gd.uses_retain() and gd.factors is None


class Table(torch.nn.Module):
    """A stand-in model: the logits of row ``input_ids[b, 0]`` of a fixed table."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = torch.nn.Parameter(table.clone())

    def forward(self, input_ids=None, attention_mask=None, **_):
        return SimpleNamespace(logits=self.table[input_ids[:, 0]])


def _nll(row: list[float], label: int) -> float:
    return -math.log(math.exp(row[label]) / sum(math.exp(v) for v in row))


# three sequences of length 3 over 3 tokens; labels -100 on the first position
TABLE = torch.tensor(
    [
        [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]],
        [[0.0, 0.0, 3.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]],
        [[1.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 0.0]],
    ]
)
LABELS = torch.tensor([[-100, 0, 1], [-100, 2, -100], [-100, 0, 2]])


def _batch(rows: list[int], index: list[int]) -> dict[str, torch.Tensor]:
    ids = torch.tensor([[r, 0, 0] for r in rows])
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": LABELS[rows],
            "index": torch.tensor(index)}  # fmt: skip


def test_gd_stream_loss_is_knowundos_factor_mean(formatter):
    gd = _method("gd", "paper")
    gd.build_forget(FORGET, formatter, _data("knowundo"))
    # stream items 0 (forget), 1 (retain), 2 (forget) as table rows 0, 1, 2
    loss, parts = gd.loss(Table(TABLE), {"forget": _batch([0, 1, 2], [0, 1, 2])}, None)
    t = TABLE.tolist()
    nll0 = (_nll(t[0][0], 0) + _nll(t[0][1], 1)) / 2
    nll1 = _nll(t[1][0], 2)
    nll2 = (_nll(t[2][0], 0) + _nll(t[2][1], 2)) / 2
    assert float(loss.detach()) == pytest.approx((-nll0 + nll1 - nll2) / 3, abs=1e-6)
    assert parts["retain_loss"] == pytest.approx(nll1, abs=1e-6)


def test_ga_kl_stream_loss_is_knowundos(formatter):
    ga_kl = _method("ga_kl", "paper")
    ga_kl.build_forget(FORGET, formatter, _data("knowundo"))
    ref_table = TABLE.flip(-1)
    ctx = Context(formatter, [], [], reference=SimpleNamespace(forward=Table(ref_table)))
    loss, _ = ga_kl.loss(Table(TABLE), {"forget": _batch([0, 1, 2], [0, 1, 2])}, ctx)
    t = TABLE.tolist()
    # −outputs.loss over the forget rows 0 and 2: token mean over their 4 labelled positions
    ce = (_nll(t[0][0], 0) + _nll(t[0][1], 1) + _nll(t[2][0], 0) + _nll(t[2][1], 2)) / 4
    soft = 0.0  # compute_kl on retain row 1: every one of its 3 positions
    for row, ref_row in zip(t[1], ref_table[1].tolist()):
        p = [math.exp(v) / sum(math.exp(x) for x in ref_row) for v in ref_row]
        q = [math.exp(v) / sum(math.exp(x) for x in row) for v in row]
        soft += -sum(pi * math.log(qi + 1e-12) for pi, qi in zip(p, q))
    assert float(loss.detach()) == pytest.approx(-ce + soft / 3, abs=1e-6)
    assert float(soft_ce_all_positions(TABLE[1:2], ref_table[1:2])) == pytest.approx(soft / 3)


def _pdu(protocol: str):
    params = {"epsilon": 0.3, "dual_init": 1.0, "dual_step_size": 5.0, "dual_warmup_epochs": 0.0}
    return _method("pdu", protocol, params)


def test_pdu_dual_moves_every_micro_batch_under_paper():
    """Four micro-batches of one optimizer step (OU's gradient accumulation 4)."""
    model = Table(TABLE)
    ctx = Context(None, [0] * 8, [0] * 8)
    t = TABLE.tolist()
    retain = [(_nll(t[0][0], 0) + _nll(t[0][1], 1)) / 2, _nll(t[1][0], 2),
              (_nll(t[2][0], 0) + _nll(t[2][1], 2)) / 2, _nll(t[1][0], 2)]  # fmt: skip
    rows = [0, 1, 2, 1]
    for protocol in ("paper", "fixed"):
        pdu, used = _pdu(protocol), []
        for row in rows:
            batch = {"forget": _batch([0, 2], [0, 1]), "retain": _batch([row], [0])}
            _, parts = pdu.loss(model, batch, ctx)
            used.append(parts["dual"])
        pdu.after_step(ctx, parts)
        if protocol == "paper":  # λ before each loss, then λ ← max(0, λ + 5·(L_r − 0.3))
            lam, want = 1.0, []
            for r in retain:
                want.append(lam)
                lam = max(0.0, lam + 5.0 * (r - 0.3))
            assert used == pytest.approx(want, abs=1e-6)
            assert pdu.dual == pytest.approx(lam, abs=1e-6)
        else:  # λ fixed through the step, one update with the last micro-batch's retain loss
            assert used == [1.0] * 4
            assert pdu.dual == pytest.approx(max(0.0, 1.0 + 5.0 * (retain[-1] - 0.3)), abs=1e-6)


def test_rmu_reduction_follows_the_protocol_unless_given():
    assert _method("rmu", "paper").reduction == "ou"
    assert _method("rmu", "ou").reduction == "ou"
    assert _method("rmu", "fixed").reduction == "per_item"
    assert _method("rmu", "paper", {"reduction": "per_item"}).reduction == "per_item"
    assert _method("rmu", "fixed", {"reduction": "ou"}).reduction == "ou"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["unlearn.method=gd", "eval.protocol=paper"], {}),  # synthkb: gd pairs batches anyway
        (["unlearn.method=rmu", "eval.protocol=paper"], {"protocol": "paper"}),
        (["unlearn.method=rmu", "unlearn.params.reduction=ou"], {}),
        (["unlearn.method=pdu", "unlearn.params.epsilon=0.3", "eval.protocol=ou"],
         {"protocol": "ou"}),
        (["unlearn.method=pdu", "unlearn.params.epsilon=0.3", "eval.protocol=fixed"], {}),
        (["benchmark.name=knowundo", "unlearn.method=gd"], {"protocol": "paper"}),
        (["model.template=kud-nn", "unlearn.method=npo"], {"protocol": "paper"}),
    ],
)  # fmt: skip
def test_the_unlearn_fingerprint_names_the_protocol_where_it_changes_training(overrides, expected):
    assert training_protocol(load_config(None, overrides)) == expected
