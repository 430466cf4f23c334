"""Growing a store along time (the year in progress), and the days a refill counts as changed."""

import numpy as np
import pytest
import xarray as xr

from pipeline.refill import changed_days
from pipeline.stores import grow_time, time_length


def test_a_store_grows_along_time_keeping_its_values(tmp_path):
    times = np.arange(np.datetime64("2022-01-01"), np.datetime64("2022-01-06"))
    ds = xr.Dataset(
        {
            "soil_moisture": (("time", "y", "x"), np.random.default_rng(0).random((5, 3, 4))),
            "land": (("y", "x"), np.ones((3, 4), np.uint8)),
        },
        coords={"time": times},
    )
    store = tmp_path / "s.zarr"
    ds.to_zarr(
        store, zarr_format=2, consolidated=True,
        encoding={"time": {"units": "days since 1970-01-01", "dtype": "int32"},
                  "soil_moisture": {"chunks": (2, 3, 4)}},
    )  # fmt: skip
    grow_time(store, 8)
    assert time_length(store) == 8
    with xr.open_zarr(store) as grown:
        assert [str(t)[:10] for t in grown.time.values[-3:]] == [
            "2022-01-06", "2022-01-07", "2022-01-08",
        ]  # fmt: skip
        np.testing.assert_array_equal(grown["soil_moisture"].values[:5], ds["soil_moisture"].values)
        assert np.isnan(grown["soil_moisture"].values[5:]).all()  # new steps: not yet written
        assert grown["land"].shape == (3, 4)
    with pytest.raises(ValueError, match="cannot shrink"):
        grow_time(store, 4)


def test_changed_days_are_those_whose_keys_differ_grown_by_the_reach_and_the_new_ones():
    old = [f"k{i}" for i in range(80)]
    earlier, new = changed_days(old, old, 30)
    assert not earlier.any() and not new.any()
    earlier, new = changed_days(old, [*old[:40], "reissued", *old[41:]], 0)
    assert np.flatnonzero(earlier).tolist() == [40] and not new.any()
    earlier, new = changed_days(old, [*old[:40], "reissued", *old[41:]], 5)
    assert np.flatnonzero(earlier).tolist() == list(range(35, 46))
    earlier, new = changed_days(old, [*old, "k80", "k81"], 30)  # the year in progress grew
    assert not earlier.any() and np.flatnonzero(new).tolist() == [80, 81]
