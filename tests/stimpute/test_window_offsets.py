"""Answers averaged over spatial attention windows moved by several offsets: the fill then has
no grid of the window size (benchmarks/README.md, "central_texas with the new default, and window
seams")."""

import numpy as np
import torch

import stimpute
from stimpute.models import STTransformer, STTransformerConfig
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


def test_the_fill_is_the_mean_of_the_answers_at_each_offset(small_twin):
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
    mean = (answers[(0,)].values + answers[(2,)].values) / 2
    np.testing.assert_allclose(answers[(0, 2)].values[gaps], mean[gaps], rtol=1e-5, atol=1e-6)
    assert not np.allclose(answers[(0,)].values[gaps], answers[(2,)].values[gaps])
    spread = (answers[(0,)].std + answers[(2,)].std) / 2
    np.testing.assert_allclose(answers[(0, 2)].std[gaps], spread[gaps], rtol=1e-5, atol=1e-6)
