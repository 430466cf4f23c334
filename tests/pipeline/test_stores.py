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


def test_changed_days_are_those_of_changed_or_new_blocks_grown_by_the_reach():
    old = ["a", "b", "c"]
    assert not changed_days(old, old, 80, 30).any()
    changed = changed_days(old, ["a", "B", "c"], 80, 0)
    assert np.flatnonzero(changed).tolist() == list(range(32, 64))
    grown = changed_days(old, ["a", "b", "c2", "d"], 100, 5)  # the year in progress grew
    assert np.flatnonzero(grown).tolist() == list(range(59, 100))
