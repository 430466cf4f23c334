import numpy as np

from stimpute.calibration import factor_map, fit_factors, same_day_seen


def test_same_day_seen_looks_at_the_3x3_neighbours_of_a_grid_and_the_whole_point_set():
    obs = np.zeros((2, 3, 4), bool)
    obs[0, 0, 0] = True  # day 0: one value in the corner
    flat = obs.reshape(2, -1)
    seen = same_day_seen(flat, (3, 4)).reshape(2, 3, 4)
    expect = np.zeros((3, 4), bool)
    expect[0, 1] = expect[1, 0] = expect[1, 1] = True  # its neighbours, not itself
    assert (seen[0] == expect).all()
    assert not seen[1].any()  # day 1 seen by nobody
    pts = np.array([[True, False, False], [True, True, False], [False, False, False]])
    assert same_day_seen(pts, None).tolist() == [
        [False, True, True],
        [True, True, True],
        [False, False, False],
    ]


def test_factors_are_fitted_per_kind_of_gap_and_pooled_when_a_kind_is_rare():
    rng = np.random.default_rng(0)
    n = 20000
    seen = np.arange(n) < n // 2
    # the model says Laplace scale 1 everywhere (std sqrt 2); errors are twice as wide where
    # no neighbour was seen that day
    err = rng.normal(0, np.where(seen, np.sqrt(2.0), 2 * np.sqrt(2.0)))
    f_seen, f_unseen = fit_factors(err, np.ones(n), np.zeros(n), seen)
    assert abs(f_seen - 1.0) < 0.05 and abs(f_unseen - 2.0) < 0.1
    # each factor puts 90% of its own values inside its interval
    for part, f in ((seen, f_seen), (~seen, f_unseen)):
        inside = np.abs(err[part]) <= 1.6449 * np.sqrt(2.0) * f
        assert abs(inside.mean() - 0.9) < 0.01
    few = np.arange(n) < 10  # ten values seen: that kind takes the pooled factor
    pooled = fit_factors(err, np.ones(n), np.zeros(n), np.ones(n, bool))[1]  # none unseen
    assert fit_factors(err, np.ones(n), np.zeros(n), few)[0] == pooled
    assert fit_factors(err[:10], np.ones(10), np.zeros(10), seen[:10]) == (1.0, 1.0)
    fm = factor_map(np.array([[True, False], [False, False]]), None, (0.5, 3.0))
    assert fm.tolist() == [[3.0, 0.5], [3.0, 3.0]]
