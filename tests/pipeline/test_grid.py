import numpy as np
import pytest

from pipeline.errors import GridError
from pipeline.grid import RESOLUTIONS, RegionGrid, cell_at, factor, snapped_window, xy_to_lonlat


def test_resolutions_nest_exactly():
    assert factor("1km", "9km") == 9 and factor("1km", "36km") == 36 and factor("9km", "36km") == 4
    for size, (rows, cols) in RESOLUTIONS.values():
        # the global grid spans the same extent at every resolution
        assert rows * size == pytest.approx(RESOLUTIONS["36km"][1][0] * RESOLUTIONS["36km"][0])
        assert cols * size == pytest.approx(RESOLUTIONS["36km"][1][1] * RESOLUTIONS["36km"][0])


def test_txson_is_one_smap_36km_cell_matching_the_paper_box():
    g = cell_at(-98.775, 30.31)
    assert g.shape == (36, 36) and g.row0 % 36 == 0 and g.col0 % 36 == 0
    lon_min, lat_min, lon_max, lat_max = g.lonlat_bbox()
    assert lon_min == pytest.approx(-98.96, abs=0.01) and lon_max == pytest.approx(-98.59, abs=0.01)
    assert lat_min == pytest.approx(30.15, abs=0.01) and lat_max == pytest.approx(30.47, abs=0.01)
    assert g.coarsen("36km").shape == (1, 1) and g.coarsen("9km").shape == (4, 4)


def test_cell_centres_and_geotransform_agree():
    g = RegionGrid(3600, 7812, 36, 36)
    x_ul, dx, _, y_ul, _, dy = g.transform
    assert g.x[0] == pytest.approx(x_ul + dx / 2) and g.y[0] == pytest.approx(y_ul + dy / 2)
    lon, lat = xy_to_lonlat(g.x[5], g.y[7])
    rows, cols = g.rowcol_of(lon, lat)
    assert (int(rows), int(cols)) == (3607, 7817)
    r, c, inside = g.locate(np.array([3607, 0]), np.array([7817, 0]))
    assert (r[0], c[0]) == (7, 5) and inside.tolist() == [True, False]


def test_snapped_window_covers_the_bbox_on_36km_edges():
    bbox = (-99.70, 29.55, -97.85, 31.05)
    g = snapped_window(bbox)
    assert g.shape == (180, 180) and g.row0 % 36 == 0 and g.col0 % 36 == 0
    lon_min, lat_min, lon_max, lat_max = g.lonlat_bbox()
    assert lon_min <= bbox[0] and lat_min <= bbox[1] and lon_max >= bbox[2] and lat_max >= bbox[3]


def test_bad_windows_raise_grid_errors():
    with pytest.raises(GridError, match="empty"):
        snapped_window((-98.0, 30.0, -99.0, 31.0))
    with pytest.raises(GridError, match="outside the global grid"):
        RegionGrid(14600, 0, 36, 36)
    with pytest.raises(GridError, match="does not align"):
        RegionGrid(3601, 7812, 36, 36).coarsen("9km")
