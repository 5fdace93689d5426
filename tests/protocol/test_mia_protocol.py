"""OU-side memorisation / MIA details under ``eval.protocol`` (issue 19 item 9): ES when no
suffix matches and the text ZLib compresses.

Golden values: a fixture generator outside the repository transcribes open-unlearning
(locuslab/open-unlearning @ d3d7cf9e6b3c125d16687d4232680d8d83548f1a)
``src/evals/metrics/memorization.py`` ``_extraction_strength`` (lines 229-255: ``for k in
range(valid_len): if torch.equal(preds[k:], labels[k:]): break``; ES = 1 − k/n) and
``src/evals/metrics/mia/zlib.py`` ``ZLIBAttack.compute_score`` on the text of
``src/evals/metrics/utils.py`` ``extract_target_texts_from_processed_data`` (lines 333-340: the
labels decoded with ``skip_special_tokens=True``), on the conftest tokenizer.
"""

from __future__ import annotations

import numpy as np
import pytest

from obliviate.eval.scoring import ItemStats
from obliviate.eval.settings import EvalConfig
from obliviate.eval.suites.base import EvalContext, stats_metrics

# teacher-forced hits over the answer tokens (EOS position dropped, as OU drops it) -> OU's ES
OU_ES = [
    ([1, 1, 1, 1], 1.0),
    ([0, 1, 1, 1], 0.75),
    ([1, 0, 1, 1], 0.5),
    ([1, 1, 1, 0], 0.25),  # no suffix matches: OU's loop ends at k = n - 1
    ([0, 0, 0, 0], 0.25),
    ([0], 1.0),
]


def _ctx(protocol: str, tokenizer=None) -> EvalContext:
    return EvalContext(None, tokenizer, None, config=EvalConfig(protocol=protocol))  # type: ignore[arg-type]


def _stats(correct: list[int], nll: float = 2.0) -> ItemStats:
    n = len(correct) + 1  # + the EOS position, which ES excludes
    return ItemStats(np.full(n, -nll), np.array([*map(bool, correct), True]))


@pytest.mark.parametrize(("correct", "ou_es"), OU_ES)
def test_extraction_strength_paper_is_ous(correct: list[int], ou_es: float) -> None:
    want = {"extraction_strength"}
    paper = stats_metrics(_stats(correct), "a", want, _ctx("paper"))["extraction_strength"]
    assert paper == pytest.approx(ou_es)
    fixed = stats_metrics(_stats(correct), "a", want, _ctx("fixed"))["extraction_strength"]
    if correct[-1]:
        assert fixed == pytest.approx(ou_es)
    else:  # fixed: no all-correct suffix is ES = 0 (SPEC 6.5)
        assert fixed == 0.0


ANSWER = "Mara  Kolb was born in Oslo , Norland."
OU_ZLIB = 0.0425531914893617  # 2.0 / len(zlib(" Mara  Kolb was born in Oslo , Norland."))
RAW_ZLIB = 0.043478260869565216  # 2.0 / len(zlib(ANSWER))


@pytest.mark.parametrize("protocol", ["paper", "ou", "fixed"])
def test_zlib_compresses_decoded_labels_under_paper(tokenizer, formatter, protocol: str) -> None:
    enc = formatter.encode_pair("Where was Mara Kolb born?", ANSWER)
    n = sum(1 for x in enc.labels if x != -100)
    st = ItemStats(np.full(n, -2.0), np.ones(n, dtype=bool))
    out = stats_metrics(st, ANSWER, {"mia_zlib"}, _ctx(protocol, tokenizer), labels=enc.labels)
    assert out["mia_zlib"] == pytest.approx(RAW_ZLIB if protocol == "fixed" else OU_ZLIB)
