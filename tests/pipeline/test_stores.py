"""Growing a store along time (the year in progress), and the days a refill counts as changed."""

import numpy as np
import pytest
import xarray as xr

from pipeline.refill import changed_days
from pipeline.stores import grow_time, link_copy, time_length


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


def test_a_linked_copy_shares_the_files_and_a_write_into_it_never_reaches_the_original(tmp_path):
    import zarr

    values = np.random.default_rng(1).random((6, 3, 4)).astype(np.float32)
    times = np.arange(np.datetime64("2022-01-01"), np.datetime64("2022-01-07"))
    ds = xr.Dataset({"soil_moisture": (("time", "y", "x"), values)}, coords={"time": times})
    src, dst = tmp_path / "filled.zarr", tmp_path / "filled.zarr.part"
    ds.to_zarr(
        src, zarr_format=2, consolidated=True,
        encoding={"time": {"units": "days since 1970-01-01", "dtype": "int32"},
                  "soil_moisture": {"chunks": (2, 3, 4)}},
    )  # fmt: skip
    before = {p: p.read_bytes() for p in src.rglob("*") if p.is_file()}
    link_copy(src, dst)
    chunk = src / "soil_moisture" / "0.0.0"
    assert chunk.stat().st_ino == (dst / "soil_moisture" / "0.0.0").stat().st_ino  # no copy
    grow_time(dst, 8)  # what a refill does to its copy: grow it, write days, old and new
    array = zarr.open_array(str(dst / "soil_moisture"), mode="r+")
    array[0:2] = -1.0
    array[6:8] = 0.5
    assert {p: p.read_bytes() for p in src.rglob("*") if p.is_file()} == before
    with xr.open_zarr(src) as original, xr.open_zarr(dst) as copy:
        np.testing.assert_array_equal(original["soil_moisture"].values, values)
        assert copy.sizes["time"] == 8 and (copy["soil_moisture"].values[0] == -1.0).all()
