"""The two real SPL3SMP_E granules in ../shared/data/smap_l3_9km (cut to six variables)."""

from datetime import date

import numpy as np
import pytest

from pipeline.catalog import product
from pipeline.errors import GranuleError
from pipeline.grid import RegionGrid, xy_to_lonlat
from pipeline.readers.smap import granule_date, read_l3, read_l3_lonlat, to_fine

# 8 x 8 cells of the global 9 km grid over east-central Texas (near College Station)
WINDOW = RegionGrid(396, 892, 8, 8, "9km")


@pytest.fixture
def l3_files(shared_dir):
    folder = shared_dir / "data" / "smap_l3_9km"
    return sorted(folder.glob("SMAP_L3_SM_P_E_*.h5"))


def test_known_pixel_value_and_location(l3_files):
    dec = read_l3(l3_files[0], product("SPL3SMP_E"), WINDOW)
    assert granule_date(l3_files[0]) == date(2020, 12, 3)
    # global cell (row 399, col 895), PM pass of 2020-12-03
    assert dec["sm_9km_pm"].values[3, 3] == pytest.approx(0.27018863, abs=1e-7)
    assert np.isnan(dec["sm_9km_am"].values).all()  # no AM swath over it that day
    lon, lat = read_l3_lonlat(l3_files[1], product("SPL3SMP_E"), WINDOW)
    # the file's own lat/lon equal the EASE-Grid 2.0 cell centre computed through pyproj
    glon, glat = xy_to_lonlat(WINDOW.x[3], WINDOW.y[3])
    assert lon[3, 3] == pytest.approx(float(glon), abs=1e-4) and lat[3, 3] == pytest.approx(
        float(glat), abs=1e-4
    )
    assert (lat[3, 3], lon[3, 3]) == pytest.approx((30.51582, -96.395226), abs=1e-5)


def test_second_granule_and_reason_counts(l3_files):
    dec = read_l3(l3_files[1], product("SPL3SMP_E"), RegionGrid(0, 0, 1624, 3856, "9km"))
    am = dec["sm_9km_am"]
    assert am.values[399, 895] == pytest.approx(0.34973165, abs=1e-7)
    # the cut-down granules carry no quality flags: counted, not silently ignored
    assert am.dropped["no_qc_in_file"] == 1
    # values above the documented valid maximum (0.5) are dropped and counted
    assert am.dropped["out_of_range"] > 0 and np.nanmax(am.values) <= 0.5
    assert am.dropped["fill"] + am.dropped["out_of_range"] + am.valid == 1624 * 3856


def test_nine_km_cells_map_exactly_onto_1km_blocks(l3_files):
    dec = read_l3(l3_files[0], product("SPL3SMP_E"), WINDOW)
    fine = to_fine(dec["sm_9km_pm"].values, 9)
    assert fine.shape == (72, 72) and fine[3 * 9 + 4, 3 * 9 + 8] == dec["sm_9km_pm"].values[3, 3]


def test_truncated_granule_is_reported(l3_files, tmp_path):
    bad = tmp_path / l3_files[0].name
    bad.write_bytes(l3_files[0].read_bytes()[:100_000])
    with pytest.raises(GranuleError, match="corrupt or truncated"):
        read_l3(bad, product("SPL3SMP_E"), WINDOW)


def test_smooth_fine_keeps_planes_and_the_footprint():
    from pipeline.readers.smap import smooth_fine

    coarse = np.add.outer(5.0 * np.arange(5), np.arange(5.0))  # a plane over a ringed 3 x 3
    fine = smooth_fine(coarse, 9)
    centre = (np.arange(27) + 0.5) / 9 + 0.5
    np.testing.assert_allclose(fine, 5 * centre[:, None] + centre[None, :], rtol=1e-6)
    coarse[2, 2] = coarse[0, 0] = np.nan  # a missing cell stays missing; a missing corner drops out
    fine = smooth_fine(coarse, 9)
    assert np.isnan(fine[9:18, 9:18]).all() and np.isfinite(fine[:9, :9]).all()
    assert np.isfinite(fine).sum() == 8 * 81
