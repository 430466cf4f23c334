import numpy as np
import pytest

from stimpute.simulate import COVARIATES, RETRIEVAL_RANGE, STATIC, twin


def test_twin_is_seeded_realistic_and_sparse():
    a = twin(height=18, width=18, days=120, seed=5)
    b = twin(height=18, width=18, days=120, seed=5)
    assert np.array_equal(a.observed, b.observed, equal_nan=True)
    assert a.truth.shape == (120, 18, 18)
    assert a.truth.min() >= 0.02 and a.truth.max() <= 0.5
    assert 0.9 < a.missing_share < 0.98
    assert a.covariates.shape == (120, 18, 18, len(COVARIATES))
    assert a.static.shape == (18, 18, len(STATIC))
    observed = ~np.isnan(a.observed)
    # observations are the truth plus retrieval noise, not the truth itself
    err = a.observed[observed] - a.truth[observed]
    assert 0.005 < np.abs(err).mean() < 0.03
    # the coarse covariate has its own gaps, rain and temperature have none
    assert 0.2 < np.isnan(a.covariates[..., 1]).mean() < 0.9
    assert not np.isnan(a.covariates[..., [0, 2]]).any()
    # observations only on overpass days
    assert (~observed.any(axis=(1, 2))).mean() > 0.7


def test_twin_seeds_differ():
    assert not np.array_equal(twin(days=30, seed=1).truth, twin(days=30, seed=2).truth)


def test_twin_exposes_the_bias_its_retrievals_carry():
    # truth + bias leaves only the day's noise: the floor that the noise-floor script reports
    a = twin(height=18, width=18, days=120, seed=3)
    assert a.retrieval_bias.shape == (18, 18)
    low, high = RETRIEVAL_RANGE
    seen = np.isfinite(a.retrieval) & (a.retrieval > low) & (a.retrieval < high)  # not clipped
    resid = (a.retrieval - a.truth - a.retrieval_bias[None])[seen]
    assert abs(resid.mean()) < 0.002
    # the noise sd it states: noise_std, half as much again over forest
    forest = a.static[..., STATIC.index("lc_forest")] > 0.5
    assert forest.any() and (~forest).any()
    assert np.allclose(a.retrieval_noise_std, np.where(forest, 1.5, 1.0) * a.params["noise_std"])
    sigma = np.broadcast_to(a.retrieval_noise_std, seen.shape)
    assert np.std(resid) == pytest.approx(np.sqrt((sigma[seen] ** 2).mean()), rel=0.1)
    # without the bias the residual is wider: the bias is really in the retrievals
    assert np.std((a.retrieval - a.truth)[seen]) > 1.05 * np.std(resid)


@pytest.mark.parametrize("family", ["bands", "convective"])
def test_the_soil_is_spun_up_before_the_record_and_its_rain_kept(family):
    from stimpute.simulate_convective import twin_convective

    make = twin if family == "bands" else twin_convective
    cold = make(height=18, width=18, days=150, seed=2, spinup_days=0)
    warm = make(height=18, width=18, days=150, seed=2, spinup_days=60)
    # the spin-up has draws of its own: the record's rain, orbits and losses are the same
    assert np.array_equal(cold.covariates[..., 0], warm.covariates[..., 0])
    assert np.array_equal(np.isnan(cold.observed), np.isnan(warm.observed))
    # it moves the soil the record starts from, and the record forgets it within months
    step = np.abs(warm.truth - cold.truth).mean(axis=(1, 2))
    assert step[0] > 0.01 and step[-1] < 0.1 * step[0]
    # the rain of the spin-up's days is kept as the rain product of the days before
    assert cold.rain_before.shape == (0, 18, 18)
    assert warm.rain_before.shape == (60, 18, 18) and warm.rain_before.dtype == np.float32
    assert np.isfinite(warm.rain_before).all() and (warm.rain_before > 1).any()
    longer = make(height=18, width=18, days=150, seed=2, spinup_days=90)
    assert not np.array_equal(longer.truth[0], warm.truth[0])
