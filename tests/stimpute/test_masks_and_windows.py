import numpy as np
import pytest

from stimpute.errors import ConfigError, WindowError
from stimpute.inference import spatial_tiles, time_windows
from stimpute.masks import hide, hide_blocks, hide_days, hide_history, hide_points
from stimpute.windows import OverlapAverage, fit_side, spread, starts, taper


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


def _overlaps(s: list[int], window: int) -> np.ndarray:
    return window - np.diff(s)


def test_spread_takes_the_fewest_windows_that_overlap_enough():
    for length, window, overlap in [
        (365, 72, 12),
        (365, 72, 24),
        (100, 36, 4),
        (73, 72, 0),
        (72, 72, 5),
    ]:
        s = spread(length, window, overlap)
        covered = np.zeros(length, bool)
        for t0 in s:
            covered[t0 : t0 + window] = True
        assert covered.all() and s[0] == 0 and s[-1] == length - window
        assert (_overlaps(s, window) >= overlap).all()
        fewer = np.linspace(0, length - window, len(s) - 1) if len(s) > 1 else None
        if fewer is not None and len(fewer) > 1:  # one window fewer cannot overlap enough
            assert (window - np.diff(fewer)).min() < overlap
    assert spread(365, 72, 12) == [0, 59, 117, 176, 234, 293]  # 6 windows; starts(.., 48): 8
    assert len(starts(365, 72, 48)) == 8
    with pytest.raises(WindowError, match="longer than the series"):
        spread(10, 12, 2)
    with pytest.raises(WindowError, match="overlap"):
        spread(100, 12, 12)


def test_tiles_shrink_to_the_fewest_that_cover_the_grid():
    assert fit_side(36, 36, 4) == 36 and fit_side(20, 36, 4) == 20
    assert fit_side(72, 36, 4) == 27  # 3 tiles of 27 (overlap 4.5), not 3 of 36 (overlap 18)
    for length in (37, 72, 100, 180, 288):
        side = fit_side(length, 36, 4)
        s = spread(length, side, 4)
        assert side <= 36 and len(s) == len(spread(length, 36, 4))
        assert (_overlaps(s, side) >= 4).all()
    tiles, weight, grid = spatial_tiles((72, 50), 72 * 50, 36, 4)
    assert grid == (27, 27) and tiles.shape == (3 * 2, 27 * 27) and weight.shape == (27 * 27,)
    assert np.array_equal(np.unique(tiles), np.arange(72 * 50))  # every node in some tile


def test_time_windows_spread_by_default_and_keep_an_explicit_stride():
    assert time_windows(365, 72, overlap=12) == ([0, 59, 117, 176, 234, 293], 72 - 59)
    assert time_windows(365, 72, overlap=18) == ([0, 49, 98, 146, 195, 244, 293], 72 - 49)
    assert time_windows(365, 72, overlap=12, stride=48) == (starts(365, 72, 48), 24)
    assert time_windows(72, 72, overlap=12) == ([0], 0)  # a lone window: no taper


def test_overlap_average_is_identity_for_identical_windows():
    field = np.random.default_rng(0).random((20, 5))
    acc = OverlapAverage((20, 5), n_out=1)
    for t0 in starts(20, 8, 5):
        w = taper(8, edge=3)[:, None] * np.ones((1, 5))
        acc.add((slice(t0, t0 + 8), slice(None)), field[None, t0 : t0 + 8], w)
    np.testing.assert_allclose(acc.result()[0], field)


def test_training_windows_reach_the_first_and_last_steps_of_a_record():
    from stimpute.windows import training_starts

    length, window = 365, 72
    starts = training_starts(length, window, 20_000, np.random.default_rng(0))
    assert starts.min() == 0 and starts.max() == length - window
    covered = np.zeros(length)
    for s, n in zip(*np.unique(starts, return_counts=True), strict=True):
        covered[s : s + window] += n
    middle = covered[length // 2]
    # uniform starts gave the first and last step 1/72 of the middle's share; now at least half
    assert covered[0] > 0.45 * middle and covered[-1] > 0.45 * middle
    assert covered.max() < 1.6 * middle
    with pytest.raises(WindowError, match="72 steps is longer than the series \\(40\\)"):
        training_starts(40, window, 1, np.random.default_rng(0))
