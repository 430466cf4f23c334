"""A partial re-run after some steps changed (a night's new days, a reissued scene): only the
time windows holding a wanted step run, the last layer works on those steps alone, and they come
out exactly as in a full run."""

import numpy as np
import pytest

import stimpute
from stimpute.errors import ConfigError
from stimpute.inference import refill_steps
from tests.conftest import TINY


def test_a_change_refills_the_steps_only_its_windows_cover():
    plan = ([0, 8, 16, 24], 4)  # windows of 12 steps over 36, overlapping by 4
    changed = np.zeros(36, bool)
    changed[30] = True
    alone = refill_steps(plan, 12, changed)
    assert np.flatnonzero(alone).tolist() == list(range(28, 36))  # 24..27 are 16's too
    changed[9] = True  # in windows 0 and 8: both run, and what only they cover
    alone = refill_steps(plan, 12, changed)
    assert alone[:16].all() and not alone[16:28].any() and alone[28:].all()
    assert (alone | ~changed).all()  # every changed step is refilled
    assert not refill_steps(plan, 12, np.zeros(36, bool)).any()


@pytest.mark.parametrize("model", ["st_transformer", "psan"])
def test_a_partial_run_equals_the_full_run_where_it_fills(small_twin, model):
    tw = small_twin
    imp = stimpute.Imputer(model, seed=0, device="cpu", window=12, **TINY)
    imp.fit(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    full = imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    n_time = tw.observed.shape[0]
    changed = np.zeros(n_time, bool)
    changed[n_time - 3] = True
    steps = imp.refill_steps(n_time, changed)
    assert steps[n_time - 3] and 0 < steps.sum() < n_time
    newest = np.arange(n_time) == n_time - 1  # the year in progress: one new day, written alone
    gaps = np.isnan(tw.observed)
    for want in (steps, newest):
        part = imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year, steps=want)
        np.testing.assert_allclose(part.values[want], full.values[want], atol=1e-6)
        np.testing.assert_allclose(part.std[want], full.std[want], atol=1e-6)
        assert np.isnan(part.values[~want][gaps[~want]]).all()  # the earlier run's values stand
        assert np.array_equal(part.values[~gaps], tw.observed[~gaps])


def test_a_baseline_refuses_a_partial_run(small_twin):
    tw = small_twin
    imp = stimpute.Imputer("linear").fit(tw.observed, times=tw.day_of_year)
    with pytest.raises(ConfigError, match="re-runs whole"):
        imp.impute(tw.observed, times=tw.day_of_year, steps=np.ones(tw.observed.shape[0], bool))
