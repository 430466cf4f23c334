import numpy as np
import pytest

from stimpute.errors import ConfigError
from stimpute.masks import hide, hide_blocks, hide_days, hide_history, hide_points
from stimpute.windows import OverlapAverage, starts, taper


@pytest.fixture
def observed():
    rng = np.random.default_rng(0)
    return rng.random((60, 100)) < 0.3


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_point_hiding_rate_is_exact(observed, rate):
    hidden = hide_points(observed, rate, np.random.default_rng(1))
    assert not (hidden & ~observed).any()
    assert hidden.sum() == round(rate * observed.sum())


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_day_hiding_hides_whole_days_near_the_rate(observed, rate):
    hidden = hide_days(observed, rate, np.random.default_rng(2))
    assert not (hidden & ~observed).any()
    for day in range(observed.shape[0]):
        if hidden[day].any():
            assert (hidden[day] == observed[day]).all()
    assert abs(hidden.sum() / observed.sum() - rate) < 0.03


def test_block_hiding_on_grid_and_points(observed):
    grid_obs = observed.reshape(60, 10, 10)
    hidden = hide_blocks(grid_obs, 0.3, np.random.default_rng(3), grid=(10, 10))
    assert not (hidden & ~grid_obs).any()
    assert abs(hidden.sum() / grid_obs.sum() - 0.3) < 0.05
    hidden = hide(observed, 0.3, "block", np.random.default_rng(3))
    assert abs(hidden.sum() / observed.sum() - 0.3) < 0.05


@pytest.mark.parametrize("rate", [0.2, 0.8])
def test_block_hiding_lands_exactly_on_the_rate_at_the_extremes(observed, rate):
    sparse = observed.reshape(60, 10, 10) & (np.random.default_rng(5).random((60, 10, 10)) < 0.25)
    for obs, grid in [(sparse, (10, 10)), (observed, None)]:
        hidden = hide_blocks(obs, rate, np.random.default_rng(6), grid=grid)
        assert not (hidden & ~obs).any()
        assert hidden.sum() == round(rate * obs.sum())


def test_history_hiding_copies_another_windows_gaps_and_keeps_some_visible():
    rng = np.random.default_rng(4)
    observed = rng.random((24, 10)) < 0.9
    pattern = np.ones((24, 10), bool)
    pattern[5:9, 3] = False  # an outage of node 3 in the other window
    pattern[12] = False  # a lost time step
    hidden = hide(observed, 0.2, "history", rng, pattern=pattern)
    np.testing.assert_array_equal(hidden, observed & ~pattern)  # rate is ignored: the pattern rules
    nearly_empty = rng.random((24, 10)) < 0.05  # another window of sparse data
    hidden = hide_history(observed, nearly_empty, rng)
    assert not (hidden & ~observed).any()
    assert hidden.sum() == int(0.8 * observed.sum())  # capped so that a fifth stays visible
    hidden = hide_history(observed, np.ones_like(observed), rng)  # no gap to copy: half the points
    assert hidden.sum() == round(0.5 * observed.sum())
    with pytest.raises(ConfigError, match="needs the observed mask"):
        hide(observed, 0.2, "history", rng)


def test_starts_cover_the_axis_and_never_drop_the_remainder():
    for length, window, stride in [(10, 4, 3), (72, 72, 48), (365, 72, 48), (13, 5, 5)]:
        s = starts(length, window, stride)
        covered = np.zeros(length, bool)
        for t0 in s:
            covered[t0 : t0 + window] = True
        assert covered.all() and s[-1] == length - window


def test_overlap_average_is_identity_for_identical_windows():
    field = np.random.default_rng(0).random((20, 5))
    acc = OverlapAverage((20, 5), n_out=1)
    for t0 in starts(20, 8, 5):
        w = taper(8, edge=3)[:, None] * np.ones((1, 5))
        acc.add((slice(t0, t0 + 8), slice(None)), field[None, t0 : t0 + 8], w)
    np.testing.assert_allclose(acc.result()[0], field)
