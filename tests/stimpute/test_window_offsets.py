"""Answers averaged over spatial attention windows moved by several offsets, each pixel weighted
toward the runs that hold it inside a window: the fill then has no grid of the window size
(benchmarks/README.md, "window seams")."""

import numpy as np
import pytest
import torch

import stimpute
from stimpute.errors import ConfigError
from stimpute.models import STTransformer, STTransformerConfig
from stimpute.windows import WINDOW_EDGE_WEIGHT, offset_weights
from tests.conftest import TINY


def test_moving_the_windows_by_a_whole_window_changes_nothing_and_by_half_a_window_does():
    torch.manual_seed(0)
    model = STTransformer(STTransformerConfig(dim=16, layers=2, heads=2, spatial_window=4)).eval()
    values = torch.randn(1, 6, 10 * 9)
    visible = torch.rand(values.shape) < 0.5
    kw = dict(times=torch.arange(6.0)[None], grid=(10, 9), all_layers=False)
    with torch.no_grad():
        base = model(values, visible, **kw)[-1][0]
        whole = model(values, visible, window_offset=4, **kw)[-1][0]
        half = model(values, visible, window_offset=2, **kw)[-1][0]
    assert torch.equal(base, whole)
    assert not torch.allclose(base, half)


def test_each_pixel_counts_most_in_the_runs_that_hold_it_inside_a_window():
    w = offset_weights((6, 7), 4, (0, 2))
    np.testing.assert_allclose(w.sum(0), 1.0)
    inside = 1 / (1 + WINDOW_EDGE_WEIGHT**2)
    # pixel (1, 1) is inside offset 0's first window and on offset 2's window edges in both axes
    assert w[0].reshape(6, 7)[1, 1] == pytest.approx(inside)
    # pixel (0, 3) is on offset 0's window edges in both axes and inside offset 2's window
    assert w[1].reshape(6, 7)[0, 3] == pytest.approx(inside)
    # pixel (1, 0) is on one edge in each run
    assert w[0].reshape(6, 7)[1, 0] == pytest.approx(0.5)
    np.testing.assert_allclose(offset_weights((3, 5), 4, (1,)), 1.0)


def test_the_fill_is_the_weighted_mean_of_the_answers_at_each_offset(small_twin):
    tw = small_twin
    hparams = {**TINY, "max_steps": 2}
    imp = stimpute.Imputer("st_transformer", seed=0, device="cpu", window=12, **hparams)
    imp.fit(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    args = (tw.observed, tw.covariates, tw.static)
    answers = {}
    for offsets in ((0,), (2,), (0, 2)):
        imp.set_inference(window_offsets=offsets)
        answers[offsets] = imp.impute(*args, times=tw.day_of_year)
    gaps = np.isnan(tw.observed)
    grid = tw.observed.shape[1:]
    w0, w2 = offset_weights(grid, imp.config.model.spatial_window, (0, 2)).reshape(2, *grid)
    mean = w0 * answers[(0,)].values + w2 * answers[(2,)].values
    np.testing.assert_allclose(answers[(0, 2)].values[gaps], mean[gaps], rtol=1e-5, atol=1e-6)
    assert not np.allclose(answers[(0,)].values[gaps], answers[(2,)].values[gaps])
    spread = w0 * answers[(0,)].std + w2 * answers[(2,)].std
    np.testing.assert_allclose(answers[(0, 2)].std[gaps], spread[gaps], rtol=1e-5, atol=1e-6)


def test_psan_refuses_window_offsets_with_a_config_error():
    with pytest.raises(ConfigError, match="PSAN has none"):
        stimpute.Imputer("psan", window_offsets=(0, 2))
    imp = stimpute.Imputer("psan")
    with pytest.raises(ConfigError, match="leave it at"):
        imp.set_inference(window_offsets=(0, 2))
