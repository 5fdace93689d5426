"""The logit lens (attacks.latent): its last layer is the model's own logits."""

from __future__ import annotations

import torch

from obliviate.attacks.latent import final_norm, item_lens, lens_logits
from obliviate.formatting import collate_right


def test_final_layer_lens_equals_model_logits(nano_model, formatter):
    enc = [formatter.encode_pair("What is the e-mail address of Mara Kolb?", "mara.kolb@lumen.org"),
           formatter.encode_pair("Where was Mara Kolb born?", "Oslo")]  # fmt: skip
    batch = collate_right(enc, formatter.pad_id)
    pos = torch.tensor([3, 5])
    lens, logits = lens_logits(nano_model.eval(), batch, pos)
    assert lens.shape[0] == nano_model.config.num_hidden_layers + 1
    full = nano_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.allclose(lens[-1], full[torch.arange(2), pos], atol=1e-5)
    assert torch.allclose(logits, full[torch.arange(2), pos], atol=1e-5)
    assert final_norm(nano_model) is nano_model.model.norm
    assert not torch.allclose(lens[0], lens[-1])  # the embeddings decode differently


def test_item_lens_rank_of_the_first_answer_token(nano_model, formatter):
    enc = [formatter.encode_pair("Where was Mara Kolb born?", "Oslo")]
    ranks, logps, tokens = item_lens(nano_model, enc, formatter.pad_id, 4, "cpu")
    first = next(i for i, t in enumerate(enc[0].labels) if t != -100)
    assert tokens == [enc[0].labels[first]]
    batch = collate_right(enc, formatter.pad_id)
    with torch.no_grad():
        out = nano_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits = out.logits[0, first - 1]
    assert ranks[0][-1] == int((logits > logits[tokens[0]]).sum())
    assert abs(logps[0][-1] - float(torch.log_softmax(logits, -1)[tokens[0]])) < 1e-4


def test_the_read_token_is_the_first_token_of_the_fact_value(formatter):
    from obliviate.attacks.latent import value_offset
    from obliviate.records import QAItem

    rec = QAItem("Where was Mara Kolb born?", "Mara Kolb was born in Oslo.", meta={"value": "Oslo"})
    j = value_offset(rec, formatter)
    body = formatter.tok(formatter.answer_text(rec.answer), add_special_tokens=False)["input_ids"]
    assert formatter.tok.decode(body[j:]).strip().startswith("Oslo")
    assert "Oslo" not in formatter.tok.decode(body[:j])
    assert value_offset(QAItem("Where?", "Oslo."), formatter) == 0  # no value: the first token
