"""The rain memory add-on: the network also gets each pixel's rain of the days before, fading
with age (antecedent precipitation indices), next to the day's own rain."""

import numpy as np
import pytest

import stimpute
from stimpute.config import NeuralConfig
from stimpute.covariates import rain_memory
from stimpute.errors import ConfigError, ShapeError
from tests.conftest import TINY

RAIN = 0  # the twin's covariates: rain, coarse (9 km) soil moisture, tmax


def _fit(tw, **kw):
    hparams = {**TINY, "max_steps": 2, **kw}
    imp = stimpute.Imputer("st_transformer", seed=0, device="cpu", window=12, **hparams)
    return imp.fit(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)


def test_one_storm_fades_by_each_memory_and_looks_back_only():
    rain = np.zeros((30, 2))
    rain[5, 0] = 10.0
    rain[8, 1] = np.nan  # a day without a value adds nothing
    idx = rain_memory(rain, (2.0, 10.0))
    assert idx.shape == (30, 2, 2)
    assert not idx[:5].any() and not idx[:, 1].any()
    age = np.arange(25)
    for i, days in enumerate((2.0, 10.0)):
        np.testing.assert_allclose(idx[5:, 0, i], np.log1p(10.0 * np.exp(-age / days)), rtol=1e-6)
    grid = rain_memory(rain.reshape(30, 1, 2), (2.0, 10.0))  # any layout of space
    assert np.array_equal(grid.reshape(idx.shape), idx)
    # a day appended to the record leaves the days before it as they were (nightly runs)
    longer = rain_memory(np.vstack([rain, np.full((1, 2), 7.0)]), (2.0, 10.0))
    assert np.array_equal(longer[:30], idx)


def test_the_rain_before_the_record_reaches_its_first_days():
    rain = np.zeros((20, 2))
    rain[3, 1] = 4.0
    before = np.zeros((10, 2))
    before[6, 0] = 10.0  # four days before the record opens
    before[2, 1] = np.nan  # a day without a value adds nothing
    idx = rain_memory(rain, (2.0, 10.0), before)
    whole = rain_memory(np.vstack([before, rain]), (2.0, 10.0))
    np.testing.assert_array_equal(idx, whole[10:])  # as if the record had started earlier
    assert idx[0, 0, 1] > 0.5  # the first morning is not read as weeks without rain
    assert np.array_equal(idx[:, 1], rain_memory(rain, (2.0, 10.0))[:, 1])
    with pytest.raises(ShapeError, match=r"\(10, 3\); give \(days, 2\)"):
        rain_memory(rain, (2.0,), np.zeros((10, 3)))


def test_the_imputer_reads_the_rain_before_the_record_only_with_the_add_on(small_twin):
    tw = small_twin
    on, off = _fit(tw, rain_covariate=RAIN), _fit(tw)
    args = (tw.observed, tw.covariates, tw.static)
    wet = np.full((30, *tw.observed.shape[1:]), 20.0, np.float32)  # a wet month before it
    for imp, moves in ((on, True), (off, False)):
        plain = imp.impute(*args, times=tw.day_of_year).values
        after_rain = imp.impute(*args, times=tw.day_of_year, rain_before=wet).values
        first = np.isnan(tw.observed[:3])
        assert (not np.allclose(plain[:3][first], after_rain[:3][first])) == moves
    with pytest.raises(ShapeError, match="`rain_before` must be \\(days, "):
        on.impute(*args, times=tw.day_of_year, rain_before=wet[:, :2])


def test_the_network_gets_the_indices_on_and_not_off(small_twin):
    tw = small_twin
    on = _fit(tw, rain_covariate=RAIN, rain_memory=(1.5, 5.0, 15.0))
    off = _fit(tw)
    n_in = tw.covariates.shape[-1]
    assert on.method.model.cfg.n_covariates == 3 * (n_in + 3)  # each channel 3 ways
    assert off.method.model.cfg.n_covariates == 3 * n_in
    assert NeuralConfig.paper().model.rain_covariate is None
    res = on.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    assert np.isfinite(res.values).all()
    # a model with it on asks for the same covariates as one with it off
    with pytest.raises(ShapeError, match="fitted with 3 covariates .* impute\\(\\) got 2"):
        on.impute(tw.observed, tw.covariates[..., :2], tw.static, times=tw.day_of_year)


def test_rain_memory_survives_save_and_load_and_a_partial_run(small_twin, tmp_path):
    tw = small_twin
    imp = _fit(tw, rain_covariate=RAIN)
    full = imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year).values
    again = stimpute.Imputer.load(imp.save(tmp_path / "m.pt"), device="cpu")
    assert again.method.config.model.rain_covariate == RAIN
    after = again.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year).values
    assert np.array_equal(full, after)
    n_time = tw.observed.shape[0]
    newest = np.arange(n_time) == n_time - 1
    part = imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year, steps=newest)
    gaps = np.isnan(tw.observed[-1])
    np.testing.assert_allclose(part.values[-1][gaps], full[-1][gaps], atol=1e-6)


def test_a_rain_channel_that_is_not_there_is_a_config_error(small_twin):
    with pytest.raises(ConfigError, match="rain_covariate=5, but the input has 3"):
        _fit(small_twin, rain_covariate=5)
