"""MCD12Q1 in its real layout: HDF4-EOS sinusoidal tiles located through StructMetadata.0."""

import numpy as np
import pyproj
import pytest

from pipeline.catalog import product, region
from pipeline.errors import GranuleError
from pipeline.grid import RegionGrid
from pipeline.readers.modis import parse_struct_metadata, read_mcd12q1, tiles_covering
from pipeline.sources.covariate_files import write_mcd12q1

LC = product("land_cover")
VAR = LC.variables["land_cover"]
GRID = region("txson").grid


def _tile_of(lon: float, lat: float) -> tuple[int, int]:
    """MODLAND's published tile formula (sphere R = 6371007.181 m, tiles of 1111950.5197 m)."""
    sinu = pyproj.CRS.from_proj4("+proj=sinu +R=6371007.181 +units=m")
    x, y = pyproj.Transformer.from_crs("EPSG:4326", sinu, always_xy=True).transform(lon, lat)
    return int((x + 20015109.354) // 1111950.5197), int((10007554.677 - y) // 1111950.5197)


def test_tiles_cover_the_region():
    lon0, lat0, lon1, lat1 = GRID.lonlat_bbox()
    assert tiles_covering(GRID) == [_tile_of((lon0 + lon1) / 2, (lat0 + lat1) / 2)] == [(9, 5)]
    texas = tiles_covering(region("texas").grid)
    assert {(8, 5), (9, 5), (9, 6), (10, 5)} <= set(texas)


def test_written_tile_reads_back_onto_the_grid(tmp_path):
    classes = np.full(GRID.shape, 10.0, dtype=np.float32)
    classes[:, 18:] = 12.0  # east half crop
    classes[10:16, 4:10] = 4.0  # a 6 x 6 km forest patch
    (path,) = write_mcd12q1(tmp_path, classes, GRID, 2022)
    assert path.name.startswith("MCD12Q1.A2022001.h09v05.061.")
    got = read_mcd12q1(path, LC, VAR, GRID).values
    assert np.isfinite(got).all()
    # mode resampling from 463 m back to 1 km keeps every class where it was, edges aside
    interior = np.ones(GRID.shape, dtype=bool)
    interior[:, 17:19] = interior[9:17, 3:11] = False
    interior[11:15, 5:9] = True
    assert (got[interior] == classes[interior]).all()
    assert (got[~interior] == classes[~interior]).mean() > 0.6


def test_struct_metadata_places_the_tile(tmp_path):
    from pyhdf.SD import SD

    (path,) = write_mcd12q1(tmp_path, np.full(GRID.shape, 7.0), GRID, 2022)
    eos = parse_struct_metadata(SD(str(path)).attributes()["StructMetadata.0"])
    assert (eos.width, eos.height, eos.name) == (2400, 2400, "MCD12Q1")
    assert eos.upper_left == pytest.approx((-10007554.677, 4447802.078666), abs=1e-3)
    assert eos.transform[1] == pytest.approx(463.3127165, abs=1e-6)


def test_a_region_outside_the_tile_reads_as_missing(tmp_path):
    (path,) = write_mcd12q1(tmp_path, np.full(GRID.shape, 7.0), GRID, 2022)
    far = RegionGrid(GRID.row0, GRID.col0 + 1500, 36, 36)  # 1500 km east: another tile
    assert np.isnan(read_mcd12q1(path, LC, VAR, far).values).all()


def test_damaged_hdf4_is_a_granule_error(tmp_path):
    (path,) = write_mcd12q1(tmp_path, np.full(GRID.shape, 7.0), GRID, 2022)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(GranuleError, match="delete it and download again"):
        read_mcd12q1(path, LC, VAR, GRID)
    path.write_bytes(b"not hdf")
    with pytest.raises(GranuleError, match="HDF4"):
        read_mcd12q1(path, LC, VAR, GRID)
