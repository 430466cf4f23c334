"""A night updates the year's NetCDF on the days its fill rewrote and appends the days it added;
the file then reads exactly as one written whole (export_netcdf)."""

import numpy as np
import pandas as pd
import xarray as xr
from pyproj import CRS

from pipeline.export_netcdf import can_update, update_netcdf, write_netcdf
from pipeline.fill_store import template

ATTRS = {"code_version": "git:one", "history": "first night"}


def _filled(days: int, seed: int) -> xr.Dataset:
    cube = xr.Dataset(
        coords={
            "spatial_ref": xr.DataArray(0, attrs={"crs_wkt": CRS.from_epsg(6933).to_wkt()}),
            "time": pd.date_range("2022-01-01", periods=days),
            "y": 3e6 - 1000.0 * np.arange(20),
            "x": -9e6 + 1000.0 * np.arange(30),
        }
    )
    ds = template(cube, np.ones((20, 30), bool)).compute()
    rng = np.random.default_rng(seed)
    flag = rng.choice(np.array([0, 1, 2], np.uint8), size=(days, 20, 30))
    sm = np.where(flag > 0, rng.uniform(0.05, 0.5, flag.shape), np.nan).astype(np.float32)
    ds["soil_moisture"].values[:] = sm
    ds["soil_moisture_uncertainty"].values[:] = np.where(
        flag == 2, 0.02, np.where(flag == 1, 0, np.nan)
    )
    ds["flag"].values[:] = flag
    return ds


def test_an_updated_file_reads_as_one_written_whole(tmp_path):
    night1, night2 = _filled(40, 0), _filled(43, 0)  # the same 40 days, then three new ones
    changed = [5, 6, 7]  # a refill rewrote these
    for t in changed:
        night2["soil_moisture"].values[t] += np.float32(0.01)
    path = write_netcdf(night1, tmp_path / "txson_2022.nc", ATTRS)
    assert can_update(path, 43) and not can_update(path, 39)  # a file never shrinks
    later = ATTRS | {"code_version": "git:two", "history": "second night"}
    update_netcdf(night2, path, later, changed)
    (tmp_path / "whole").mkdir()
    whole = write_netcdf(night2, tmp_path / "whole" / "txson_2022.nc", later)
    with xr.open_dataset(path) as got, xr.open_dataset(whole) as want:
        assert got.sizes["time"] == 43
        xr.testing.assert_identical(got.load(), want.load())
    import netCDF4

    with netCDF4.Dataset(path) as got, netCDF4.Dataset(whole) as want:  # the stored numbers too
        for name in ("time", "soil_moisture", "soil_moisture_uncertainty", "flag"):
            got[name].set_auto_mask(False)
            want[name].set_auto_mask(False)
            np.testing.assert_array_equal(got[name][:], want[name][:])
        assert got.dimensions["time"].isunlimited()


def test_only_the_named_days_are_written(tmp_path):
    night1, night2 = _filled(40, 0), _filled(40, 0)
    night2["soil_moisture"].values[10] += np.float32(0.01)  # changed, but not named
    night2["soil_moisture"].values[20] += np.float32(0.01)
    path = write_netcdf(night1, tmp_path / "txson_2022.nc", ATTRS)
    update_netcdf(night2, path, ATTRS, [20])
    with xr.open_dataset(path) as got:
        np.testing.assert_array_equal(got["soil_moisture"][10], night1["soil_moisture"][10])
        np.testing.assert_array_equal(got["soil_moisture"][20], night2["soil_moisture"][20])
    assert not list(tmp_path.glob("*.part"))
