"""PSAN's parts: the bidirectional temporal block sees both directions, the prototype bias is
computed from the data (so it moves with the data, not with node positions), big tiles fit."""

import torch

from stimpute.models import PSAN, PSANConfig
from stimpute.models.psan import BiTemporal, PrototypeAttention


def test_temporal_block_reaches_both_ends_of_the_window():
    torch.manual_seed(0)
    block = BiTemporal(8, window=12)
    x = torch.zeros(1, 12, 8, requires_grad=True)
    block(x)[0, 6].sum().backward()
    grad = x.grad[0].abs().sum(-1)
    assert grad[0] > 0 and grad[11] > 0  # the global kernel spans the window, forward and back


def test_prototype_bias_follows_the_nodes_not_their_positions():
    torch.manual_seed(0)
    attn = PrototypeAttention(8, heads=2, prototypes=4)
    x = torch.randn(1, 5, 6, 8)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    b, bp = attn.bias(x), attn.bias(x[:, :, perm])
    torch.testing.assert_close(bp, b[:, :, perm][:, :, :, perm])
    torch.testing.assert_close(b, b.transpose(-1, -2))  # a similarity: symmetric
    y, yp = attn(x), attn(x[:, :, perm])
    torch.testing.assert_close(yp, y[:, :, perm], atol=1e-5, rtol=1e-5)  # equivariant


def test_a_36_by_36_tile_runs_without_materialising_all_scores():
    torch.manual_seed(0)
    model = PSAN(PSANConfig(dim=16, layers=1, heads=2, window=8, temporal_context=False)).eval()
    n = 36 * 36
    values = torch.randn(1, 8, n)
    visible = torch.rand(1, 8, n) > 0.5
    with torch.no_grad():
        ((mean, log_scale),) = model(
            values, visible, times=torch.arange(8.0)[None], grid=(36, 36), all_layers=False
        )
    assert (
        mean.shape == (1, 8, n) and torch.isfinite(mean).all() and torch.isfinite(log_scale).all()
    )
