"""A partial re-run after some steps changed (a night's new days, a reissued scene): only the
time windows holding a changed step run, and the steps they alone cover come out exactly as in a
full run."""

import numpy as np
import pytest

import stimpute
from stimpute.errors import ConfigError
from stimpute.inference import refill_plan
from tests.conftest import TINY


def test_the_plan_keeps_the_windows_of_changed_steps_and_the_steps_they_alone_cover():
    plan = ([0, 8, 16, 24], 4)  # windows of 12 steps over 36, overlapping by 4
    changed = np.zeros(36, bool)
    changed[30] = True
    (kept, edge), alone = refill_plan(plan, 12, changed)
    assert kept == [24] and edge == 4
    assert np.flatnonzero(alone).tolist() == list(range(28, 36))  # 24..27 are 16's too
    changed[9] = True  # in windows 0 and 8: both run, and what only they cover
    (kept, _), alone = refill_plan(plan, 12, changed)
    assert kept == [0, 8, 24]
    assert alone[:16].all() and not alone[16:28].any() and alone[28:].all()
    assert (alone | ~changed).all()  # every changed step is refilled
    (kept, _), alone = refill_plan(plan, 12, np.zeros(36, bool))
    assert kept == [] and not alone.any()


def test_a_partial_run_equals_the_full_run_where_it_fills(small_twin):
    tw = small_twin
    imp = stimpute.Imputer("st_transformer", seed=0, device="cpu", window=12, **TINY)
    imp.fit(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    full = imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    n_time = tw.observed.shape[0]
    changed = np.zeros(n_time, bool)
    changed[n_time - 3] = True
    part = imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year, changed=changed)
    steps = imp.refill_steps(n_time, changed)
    assert steps[n_time - 3] and 0 < steps.sum() < n_time
    np.testing.assert_allclose(part.values[steps], full.values[steps], atol=1e-6)
    np.testing.assert_allclose(part.std[steps], full.std[steps], atol=1e-6)
    gaps = np.isnan(tw.observed)
    assert np.isnan(part.values[~steps][gaps[~steps]]).all()  # left for the earlier run's values
    observed = ~gaps
    assert np.array_equal(part.values[observed], tw.observed[observed])


def test_a_baseline_refuses_a_partial_run(small_twin):
    tw = small_twin
    imp = stimpute.Imputer("linear").fit(tw.observed, times=tw.day_of_year)
    with pytest.raises(ConfigError, match="re-runs whole"):
        imp.impute(tw.observed, times=tw.day_of_year, changed=np.ones(tw.observed.shape[0], bool))
