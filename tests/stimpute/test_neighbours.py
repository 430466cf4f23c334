"""The neighbour-mean baseline against values worked out by hand."""

import numpy as np

import stimpute


def test_neighbour_mean_plus_record_offset_by_hand():
    # 2 days on a 3 x 3 grid: day 0 fully seen, day 1 misses the centre
    day0 = np.array([[1, 1, 1], [1, 3, 1], [1, 1, 1]], np.float32)
    day1 = np.full((3, 3), 2.0, np.float32)
    day1[1, 1] = np.nan
    values = np.stack([day0, day1])
    res = stimpute.Imputer("neighbours").fit(values).impute(values)
    # centre on day 1: its 8 neighbours average 2.0; its record offset is its departure from
    # its neighbours on day 0, 3 - 1 = 2, the only day it was seen
    assert res.values[1, 1, 1] == np.float32(4.0)
    observed = ~np.isnan(values)
    assert np.array_equal(res.values[observed], values[observed])


def test_falls_back_to_time_when_no_neighbour_is_seen():
    values = np.full((3, 2, 2), np.nan, np.float32)
    values[0] = 1.0
    values[2] = 3.0  # day 1 is a whole missing day
    res = stimpute.Imputer("neighbours").fit(values).impute(values)
    assert np.allclose(res.values[1], 2.0)
