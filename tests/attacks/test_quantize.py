"""RTN quantisation (attacks.quantize): a known tensor against a hand computation, and which
layers it touches."""

from __future__ import annotations

import pytest
import torch

from obliviate.attacks.quantize import quantize, quantize_rtn, rtn
from obliviate.errors import ObliviateError

W = torch.tensor([[-0.6, -0.1, 0.2, 0.9]])


def test_rtn_one_group_equals_hand_computation():
    # 2 bits, one group: s = (0.9 + 0.6) / 3 = 0.5, z = round(0.6 / 0.5) = 1,
    # w / s = [-1.2, -0.2, 0.4, 1.8] -> round [-1, 0, 0, 2] + 1 = q [0, 1, 1, 3],
    # ŵ = (q - 1) * 0.5 = [-0.5, 0, 0, 1.0]
    assert torch.allclose(rtn(W, bits=2, group_size=0), torch.tensor([[-0.5, 0.0, 0.0, 1.0]]))


def test_rtn_groups_of_two_equal_hand_computation():
    # group [-0.6, -0.1]: s = 0.5 / 3, z = round(3.6) = 4, q = [-4 + 4, -1 + 4] = [0, 3],
    #   ŵ = [-4 s, -1 s] = [-2/3, -1/6]
    # group [0.2, 0.9]: s = 0.7 / 3, z = round(-6/7) = -1, q = [1 - 1, 4 - 1] = [0, 3],
    #   ŵ = [1 s, 4 s] = [0.7/3, 2.8/3]
    want = torch.tensor([[-2 / 3, -1 / 6, 0.7 / 3, 2.8 / 3]])
    assert torch.allclose(rtn(W, bits=2, group_size=2), want, atol=1e-6)


def test_rtn_short_last_group_and_8_bit_error_bound():
    torch.manual_seed(0)
    w = torch.randn(3, 10)
    out = rtn(w, bits=8, group_size=4)  # groups of 4, 4, 2 columns
    for lo, hi in ((0, 4), (4, 8), (8, 10)):
        g = w[:, lo:hi]
        scale = (g.amax(1) - g.amin(1)) / 255
        assert ((out[:, lo:hi] - g).abs().amax(1) <= scale + 1e-6).all()
    assert torch.equal(rtn(torch.full((2, 3), 0.7), 4, 2), torch.full((2, 3), 0.7))


def test_quantize_rtn_leaves_tied_output_layer_and_embeddings(nano_model):
    emb = nano_model.get_input_embeddings().weight.clone()
    q_proj = nano_model.model.layers[0].self_attn.q_proj.weight.clone()
    n = quantize_rtn(nano_model, bits=4, group_size=16)
    assert n == sum(isinstance(m, torch.nn.Linear) for m in nano_model.modules()) - 1
    assert torch.equal(nano_model.get_input_embeddings().weight, emb)
    assert torch.equal(nano_model.model.layers[0].self_attn.q_proj.weight, rtn(q_proj, 4, 16))


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU-only error")
def test_bitsandbytes_without_cuda_is_a_one_line_error(nano_model):
    with pytest.raises(ObliviateError, match="needs CUDA"):
        quantize(nano_model, "bnb_nf4", 64, False)
