"""The second twin family: other rain, soil water, coarse product and orbits than the first."""

import numpy as np

from stimpute.bench.datasets import twin_problem
from stimpute.simulate import COVARIATES, STATIC, twin
from stimpute.simulate_convective import layer_step, twin_convective


def test_the_convective_twin_is_seeded_realistic_and_sparse():
    a = twin_convective(height=18, width=18, days=200, seed=4)
    b = twin_convective(height=18, width=18, days=200, seed=4)
    assert np.array_equal(a.observed, b.observed, equal_nan=True)
    assert a.covariates.shape == (200, 18, 18, len(COVARIATES))
    assert a.static.shape == (18, 18, len(STATIC))
    assert a.truth.min() >= 0.02 and a.truth.max() <= 0.5
    assert 0.85 < a.missing_share < 0.98
    seen = np.isfinite(a.observed)
    assert 0.005 < np.abs(a.observed - a.truth)[seen].mean() < 0.03
    assert not np.array_equal(a.truth, twin_convective(height=18, width=18, days=200, seed=5).truth)


def test_it_differs_in_structure_from_the_first_family():
    conv = twin_convective(height=36, width=36, days=365, seed=0)
    bands = twin(height=36, width=36, days=365, seed=0)

    # rain in small cells: on a wet day a smaller share of the region gets rain
    def wet_share(tw):
        rain = tw.covariates[..., 0]
        wet_days = rain.max(axis=(1, 2)) > 5
        return float((rain[wet_days] > 1).mean())

    assert wet_share(conv) < 0.8 * wet_share(bands)
    # the 9 km product's edges on a day are diagonal staircases, not whole columns
    seen9 = np.isfinite(conv.covariates[..., 1])
    day = int(np.flatnonzero(seen9.any(axis=(1, 2)) & ~seen9.all(axis=(1, 2)))[0])
    columns_whole = (seen9[day].all(axis=0) | ~seen9[day].any(axis=0)).all()
    assert not columns_whole
    # its bias drifts with the season: summer and winter differ
    coarse, truth = conv.covariates[..., 1], conv.truth
    err = np.where(np.isfinite(coarse), coarse - truth, np.nan)
    summer, winter = np.nanmean(err[150:240]), np.nanmean(err[:60])
    assert abs(summer - winter) > 0.005


def test_rain_on_a_full_layer_mostly_runs_off():
    shape = (1, 1)
    porosity, residual, ksat = np.full(shape, 0.45), np.full(shape, 0.05), np.full(shape, 40.0)
    green, tmax = np.zeros(shape), np.full(shape, 10.0)
    dry = layer_step(
        np.full(shape, 0.08), np.full(shape, 30.0), tmax, green, porosity, residual, ksat
    )
    wet = layer_step(
        np.full(shape, 0.42), np.full(shape, 30.0), tmax, green, porosity, residual, ksat
    )
    assert (dry - 0.08) > 0.3 * 30 / 50  # most of 30 mm enters a dry layer
    assert wet <= porosity and (wet - 0.42) < 0.1 * 30 / 50  # a full one takes little


def test_the_bench_runs_on_either_family():
    p = twin_problem("day", size=18, days=120, seed=0, family="convective")
    assert p.name == "twin-convective" and p.info["family"] == "convective"
    assert p.eval_mask.sum() > 0 and np.isfinite(p.values).any()
