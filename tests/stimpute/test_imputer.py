import numpy as np
import pytest

import stimpute
from stimpute import metrics
from tests.conftest import TINY

ALL_MODELS = [
    "mean",
    "linear",
    "dctpls",
    "neighbours",
    "mice",
    "random_forest",
    "st_transformer",
    "psan",
]
NEURAL = ("st_transformer", "psan")


def _imputer(name, **kw):
    extra = dict(TINY) if name in NEURAL else {}
    extra.update(kw)
    if name in NEURAL:
        extra.setdefault("device", "cpu")
        extra.setdefault("window", 12)
    return stimpute.Imputer(name, seed=0, **extra)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_grid_shapes_observed_unchanged_and_no_nan(name, small_twin):
    tw = small_twin
    imp = _imputer(name).fit(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    res = imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    observed = ~np.isnan(tw.observed)
    assert res.values.shape == tw.observed.shape and res.std.shape == tw.observed.shape
    assert np.array_equal(res.values[observed], tw.observed[observed])  # bit-identical
    assert not np.isnan(res.values).any()
    assert (res.std[observed] == 0).all() and (res.std[~observed] > 0).all()


@pytest.mark.parametrize("name", ["linear", "dctpls", "neighbours", "st_transformer", "psan"])
def test_point_sets(name):
    rng = np.random.default_rng(0)
    t = np.arange(50)[:, None]
    values = (np.sin(t / 6 + np.arange(9)[None] / 4) + 2).astype(np.float32)
    values[rng.random(values.shape) < 0.4] = np.nan
    coords = rng.random((9, 2))
    imp = _imputer(name).fit(values, coords=coords)
    res = imp.impute(values, coords=coords)
    assert res.values.shape == (50, 9) and not np.isnan(res.values).any()
    ok = ~np.isnan(values)
    assert np.array_equal(res.values[ok], values[ok])


@pytest.mark.parametrize("name", ["mean", "linear", "dctpls", "st_transformer", "psan"])
def test_save_load_round_trip_gives_identical_outputs(name, small_twin, tmp_path):
    tw = small_twin
    imp = _imputer(name).fit(tw.observed, tw.covariates, tw.static)
    first = imp.impute(tw.observed, tw.covariates, tw.static)
    path = imp.save(tmp_path / f"{name}.pt")
    again = stimpute.Imputer.load(path, device="cpu").impute(tw.observed, tw.covariates, tw.static)
    assert np.array_equal(first.values, again.values)
    assert np.array_equal(first.std, again.std)


def test_cpu_training_is_repeatable_with_a_seed(smooth_grid):
    values, _ = smooth_grid
    a = _imputer("st_transformer", max_steps=10).fit(values).impute(values).values
    b = _imputer("st_transformer", max_steps=10).fit(values).impute(values).values
    assert np.array_equal(a, b)


@pytest.mark.parametrize("name", NEURAL)
def test_tiny_model_overfits_a_tiny_problem(smooth_grid, name):
    values, truth = smooth_grid
    missing = np.isnan(values)
    imp = _imputer(name, max_steps=250, eval_every=25, patience=100, lr=3e-3, hide_rates=(0.3,))
    res = imp.fit(values).impute(values)
    mean_fill = _imputer("mean").fit(values).impute(values).values
    model_mae = metrics.mae(res.values, truth, missing)
    base_mae = metrics.mae(mean_fill, truth, missing)
    assert model_mae < 0.4 * base_mae, (model_mae, base_mae)


def test_linear_is_exact_on_a_linear_series():
    values = np.tile(np.arange(10, dtype=np.float32)[:, None], (1, 3))
    values[[2, 3, 7], :] = np.nan
    res = stimpute.Imputer("linear").fit(values).impute(values)
    np.testing.assert_allclose(res.values, np.tile(np.arange(10.0)[:, None], (1, 3)), atol=1e-6)


def test_covariates_must_match_at_impute(small_twin):
    tw = small_twin
    imp = _imputer("st_transformer", max_steps=2).fit(tw.observed, tw.covariates, tw.static)
    with pytest.raises(stimpute.ShapeError, match="covariates"):
        imp.impute(tw.observed, tw.covariates[..., :2], tw.static)
