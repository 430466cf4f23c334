"""Several crops of a region learnt at once: each keeps its own static fields and neighbours."""

import numpy as np
import pytest
import torch

import stimpute
from stimpute.config import TrainConfig
from stimpute.context import RecordOffset
from stimpute.errors import ConfigError, ShapeError
from stimpute.layout import prepare
from stimpute.sampling import WindowSampler
from stimpute.tensors import Scaled, Scaler
from tests.conftest import TINY


def _crops(k=3, t=20, h=8, w=6, seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.normal(i, 1, (t, h, w)).astype(np.float32) for i in range(k)]
    static = [np.full((h, w, 1), float(i), np.float32) for i in range(k)]
    cov = [rng.normal(size=(t, h, w, 2)).astype(np.float32) for _ in range(k)]
    return values, cov, static


def test_crops_become_bands_with_their_own_static_fields():
    values, cov, static = _crops()
    batch = prepare(values, cov, static)
    assert batch.layout.panels == 3 and batch.layout.grid == (24, 6)
    assert batch.layout.panel_height == 8
    per_node = batch.static[:, 0].reshape(24, 6)
    assert (per_node[:8] == 0).all() and (per_node[8:16] == 1).all() and (per_node[16:] == 2).all()
    assert np.array_equal(batch.values.reshape(20, 24, 6)[:, 8:16], values[1])
    assert np.array_equal(batch.covariates.reshape(20, 24, 6, 2)[:, 16:], cov[2])


def test_mismatched_crops_are_refused_with_their_shapes():
    values, cov, static = _crops()
    with pytest.raises(ShapeError, match=r"\(20, 8, 6\).*\(20, 7, 6\)"):
        prepare([values[0], values[1][:, :7]])
    with pytest.raises(ShapeError, match="`static` must be a list of 3"):
        prepare(values, cov, static[0])


def test_training_crops_stay_inside_one_band():
    values, cov, static = _crops(k=4, h=8, w=8)
    batch = prepare(values, cov, static)
    data = Scaled.build(batch, Scaler.fit(batch))
    sampler = WindowSampler(data, TrainConfig(tile=5), np.random.default_rng(0))
    bands = set()
    for _ in range(200):
        nodes, grid = sampler.crop()
        rows = nodes // 8
        assert grid == (5, 5)
        assert len(set(rows // 8)) == 1, "a training crop spans two of the stacked crops"
        bands.add(int(rows[0] // 8))
    assert bands == {0, 1, 2, 3}


def test_record_offset_takes_no_neighbour_from_another_crop():
    # crop 0 all 0, crop 1 all 10: within each crop nobody departs from their neighbours
    values = torch.cat([torch.zeros(5, 4 * 4), torch.full((5, 4 * 4), 10.0)], dim=1)
    apart = RecordOffset.of(values, (8, 4), panels=2)
    assert torch.allclose(apart.offset, torch.zeros(32))
    together = RecordOffset.of(values, (8, 4))  # one grid: the boundary rows see the other crop
    assert together.offset.abs().max() > 1


def test_imputer_learns_from_crops_and_fills_one():
    values, cov, static = _crops(k=2, t=24, h=6, w=6)
    for v in values:
        v[::3] = np.nan
    imp = stimpute.Imputer("st_transformer", seed=0, device="cpu", window=12, **TINY)
    imp.fit(values, cov, static, max_epochs=1)
    res = imp.impute(values[1], cov[1], static[1])
    assert np.isfinite(res.values).all()
    with pytest.raises(ShapeError, match="one array at a time"):
        imp.impute(values, cov, static)
    with pytest.raises(ConfigError, match="only to st_transformer or psan"):
        stimpute.Imputer("mean").fit(values)
