"""A prior covariate: a coarse field of the same quantity, smoothed, that the network reads in
the coarse channel's place."""

from pathlib import Path

import numpy as np
import pytest

import stimpute
from stimpute.covariates import prior_field
from stimpute.errors import CheckpointError, ConfigError
from tests.conftest import TINY

COARSE = 1  # the twin's covariates: rain, coarse (9 km) soil moisture, tmax


def _fit(tw, **kw):
    hparams = {**TINY, "max_steps": 1, **kw}
    imp = stimpute.Imputer("st_transformer", seed=0, device="cpu", window=12, **hparams)
    return imp.fit(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)


def test_the_prior_survives_save_and_load(small_twin, tmp_path):
    tw = small_twin
    imp = _fit(tw, prior_covariate=COARSE)
    before = imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year).values
    again = stimpute.Imputer.load(imp.save(tmp_path / "m.pt"), device="cpu")
    after = again.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year).values
    assert np.array_equal(before, after)


def test_a_prior_channel_that_is_not_there_is_a_config_error(small_twin):
    with pytest.raises(ConfigError, match="prior_covariate=7, but the input has 3"):
        _fit(small_twin, prior_covariate=7)


def test_the_prior_has_no_step_at_the_edge_of_a_swath():
    days, h, w = 9, 20, 40
    coarse = np.full((days, h, w), 0.30, np.float32)
    coarse[4, :, :] = np.nan
    coarse[4, :, :20] = 0.40  # a wet day seen by the west half of the grid only
    prior = prior_field(coarse.reshape(days, -1), (h, w), spread=4.0, memory=0.6)
    day = prior.reshape(days, h, w)[4]
    assert 0.35 < day[10, 2] <= 0.40  # mostly the day's own field where it was seen
    assert abs(day[10, 37] - 0.30) < 0.005  # the other days' where it was not
    steps = np.abs(np.diff(day, axis=1))
    assert steps.max() < 0.15 * (day[10, 2] - day[10, 37])  # the step spread over many pixels
    assert day[10, 20] > 0.30 + 0.01  # the wet day reaches past the edge, fading


def test_the_prior_of_a_field_seen_everywhere_every_day_is_the_field_smoothed():
    rng = np.random.default_rng(0)
    coarse = (0.2 + 0.01 * rng.standard_normal((30, 8 * 8))).astype(np.float32)
    prior = prior_field(coarse, (8, 8), spread=2.0, memory=0.6)
    assert np.abs(prior - coarse).max() < 0.05 and abs(prior.mean() - coarse.mean()) < 1e-3
    gappy = coarse.copy()
    gappy[:, :10] = np.nan  # ten nodes never seen: filled from their neighbours
    assert np.isfinite(prior_field(gappy, (8, 8), spread=2.0, memory=0.6)).all()
    assert np.isfinite(prior_field(gappy, None, spread=2.0, memory=0.6)).all()  # a point set


def test_some_days_of_the_prior_are_those_days_of_the_whole_records_prior():
    rng = np.random.default_rng(1)
    days, h, w = 120, 12, 14
    coarse = 0.25 + 0.05 * rng.standard_normal((days, h * w))
    coarse[rng.random(coarse.shape) < 0.7] = np.nan
    coarse[:, :3] = np.nan  # never seen: the mean of what was seen
    coarse[10:100, 3:40] = np.nan  # 90 days unseen: the fallback reads the whole record
    whole = prior_field(coarse, (h, w), 1.0, 0.6)
    for lo, hi in ((0, 10), (40, 75), (100, 120), (119, 120)):
        part = prior_field(coarse, (h, w), 1.0, 0.6, days=slice(lo, hi))
        np.testing.assert_allclose(part, whole[lo:hi], atol=1e-7)
    points = prior_field(coarse, None, 0.0, 0.6)  # no neighbours: the never-seen hold the mean
    assert np.allclose(points[:, :3], np.nanmean(coarse))


def test_the_priors_weights_in_time_reach_thirty_days_and_no_further():
    from stimpute.covariates import PRIOR_REACH, _in_time

    rng = np.random.default_rng(2)
    days, nodes, memory = 100, 7, 4.0
    x = rng.random((days, nodes)) * (rng.random((days, nodes)) < 0.5)
    kernel = np.exp(-np.abs(np.arange(-PRIOR_REACH, PRIOR_REACH + 1)) / memory)
    direct = np.stack([np.convolve(x[:, n], kernel, mode="same") for n in range(nodes)], axis=1)
    np.testing.assert_allclose(_in_time(x, memory), direct, rtol=1e-12, atol=1e-15)
    one = np.zeros((days, 1))
    one[50] = 1.0
    reached = np.flatnonzero(_in_time(one, memory)[:, 0] > 1e-30)
    assert (reached.min(), reached.max()) == (50 - PRIOR_REACH, 50 + PRIOR_REACH)


def test_a_prior_as_input_takes_the_coarse_channels_place_and_leaves_the_values(small_twin):
    tw = small_twin
    imp = _fit(tw, prior_covariate=COARSE)
    args = (tw.observed, tw.covariates, tw.static)
    batch = stimpute.layout.prepare(*args, times=tw.day_of_year)
    seen = imp.method._network_batch(batch)
    np.testing.assert_array_equal(seen.values, batch.values)  # the network answers the values
    smooth = imp.method.prior(batch)
    assert np.isfinite(smooth).all() and np.isnan(batch.covariates[..., COARSE]).any()
    np.testing.assert_array_equal(seen.covariates[..., COARSE], smooth)
    others = [c for c in range(batch.covariates.shape[-1]) if c != COARSE]
    np.testing.assert_array_equal(seen.covariates[..., others], batch.covariates[..., others])
    # a prior given by the caller is the channel the network reads
    own = imp.impute(*args, times=tw.day_of_year).values
    given = smooth.reshape(tw.observed.shape)
    assert np.array_equal(imp.impute(*args, times=tw.day_of_year, prior=given).values, own)
    assert not np.array_equal(
        imp.impute(*args, times=tw.day_of_year, prior=given + 0.05).values, own
    )
    with pytest.raises(stimpute.errors.ShapeError, match="`prior` must be finite and shaped"):
        imp.impute(*args, times=tw.day_of_year, prior=given[:, :3])


def test_a_checkpoint_that_learned_departures_from_its_prior_is_refused(small_twin, tmp_path):
    import torch

    path = _fit(small_twin, prior_covariate=COARSE).save(tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)

    def saved_as(name: str, **model) -> Path:
        config = {**payload["config"], "model": {**payload["config"]["model"], **model}}
        if model.get("prior_departure") is None:
            config["model"].pop("prior_departure", None)
        torch.save({**payload, "format": f"stimpute-imputer/{name}", "config": config}, path)
        return path

    # format 2 learned departures from a prior unless it said otherwise (before the switch,
    # departures were the only way)
    for old in (saved_as("2"), saved_as("2", prior_departure=True)):
        with pytest.raises(CheckpointError, match="fitted with prior_departure.*fit the imputer"):
            stimpute.Imputer.load(old, device="cpu")
    assert stimpute.Imputer.load(saved_as("2", prior_departure=False), device="cpu").fitted
    assert stimpute.Imputer.load(saved_as("3"), device="cpu").fitted
    # without a prior there was nothing to depart from
    assert stimpute.Imputer.load(saved_as("2", prior_covariate=None), device="cpu").fitted
