"""The sample's covariate writers geolocate a band of rows at a time (so their memory follows
the band, not the region): the files must not depend on the band height."""

import zipfile

import netCDF4
import numpy as np
import pytest
import rasterio
from pyhdf.SD import SD

import pipeline.sources.covariate_files as cf
from pipeline.grid import RegionGrid

GRID = RegionGrid(6300, 17550, 45, 54, "1km")  # central Texas, 45 x 54 km


def _write_all(folder, monkeypatch, band_rows):
    monkeypatch.setattr(cf, "BAND_ROWS", band_rows)
    rng = np.random.default_rng(3)
    field = rng.uniform(0, 500, GRID.shape)
    classes = rng.integers(1, 17, GRID.shape).astype(np.float32)
    days = np.arange(np.datetime64("2022-01-01"), np.datetime64("2022-01-03"))
    with cf.DaymetWriter(folder / "prcp.nc", "prcp", "mm/day", GRID, days) as w:
        for t in range(2):
            w.write(t, field + t)
    cf.write_geotiff(folder / "sand.tif", field, GRID, nodata=-32768, dtype="int16")
    (dem,) = cf.write_nasadem(folder, field, GRID)[:1]
    (lc,) = cf.write_mcd12q1(folder, classes, GRID, 2022)[:1]
    with netCDF4.Dataset(folder / "prcp.nc") as nc:
        daymet = [nc[v][:].filled(np.nan) for v in ("prcp", "lat", "lon")]
    with rasterio.open(folder / "sand.tif") as src:
        tif = src.read(1)
    with zipfile.ZipFile(dem) as z:
        hgt = z.read(z.namelist()[0])
    return daymet, tif, hgt, SD(str(lc)).select("LC_Type1")[:]


@pytest.mark.parametrize("band_rows", [7])  # divides none of the heights: a short last band
def test_files_do_not_depend_on_the_band_height(tmp_path, monkeypatch, band_rows):
    (tmp_path / "one").mkdir()
    (tmp_path / "bands").mkdir()
    whole = _write_all(tmp_path / "one", monkeypatch, 100_000)
    banded = _write_all(tmp_path / "bands", monkeypatch, band_rows)
    for a, b in zip(whole[0], banded[0], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(whole[1], banded[1])
    assert whole[2] == banded[2]
    np.testing.assert_array_equal(whole[3], banded[3])
    assert (whole[3] != 255).sum() > 1000  # the region's cells were written, not only fill
