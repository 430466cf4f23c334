import json
import os
from datetime import date

import numpy as np
import pytest
import xarray as xr

from pipeline.catalog import load_products, product, region
from pipeline.cube import build
from pipeline.errors import GranuleError
from pipeline.fill_inputs import Features
from pipeline.grid import RegionGrid
from pipeline.readers.regrid import read_geotiff
from pipeline.readers.smap import read_l2
from pipeline.sources.smap_files import l2_name, write_l2
from tests.pipeline.conftest import YEAR

GRID = region("txson").grid


def _one_pixel_scene(tmp_path, r, c, value, *, bad=False):
    sm = np.full(GRID.shape, np.nan)
    sm[r, c] = value
    return write_l2(
        tmp_path / l2_name(date(YEAR, 3, 1), "099W31N", 1), GRID, sm, np.full(GRID.shape, bad)
    )


def test_a_pixel_at_a_known_ease_row_col_lands_at_its_x_y(tmp_path):
    path = _one_pixel_scene(tmp_path, 5, 7, 0.25)
    dec = read_l2(path, product("SPL2SMAP_S"), GRID)
    assert np.argwhere(np.isfinite(dec.values)).tolist() == [[5, 7]]
    # the same scene read onto a window shifted by (2, 3) cells moves the pixel by (-2, -3)
    shifted = RegionGrid(GRID.row0 + 2, GRID.col0 + 3, 36, 36)
    assert np.argwhere(
        np.isfinite(read_l2(path, product("SPL2SMAP_S"), shifted).values)
    ).tolist() == [[3, 4]]


def test_quality_flagged_values_become_missing(tmp_path):
    dec = read_l2(_one_pixel_scene(tmp_path, 1, 1, 0.3, bad=True), product("SPL2SMAP_S"), GRID)
    assert np.isnan(dec.values).all() and dec.dropped["qc"] == 1


def test_indices_that_disagree_with_lat_lon_are_reported(tmp_path):
    import h5py

    path = _one_pixel_scene(tmp_path, 1, 1, 0.3)
    with h5py.File(path, "r+") as f:
        f["Soil_Moisture_Retrieval_Data_1km/EASE_row_index_1km"][...] += 40
    with pytest.raises(GranuleError, match="disagree with latitude/longitude"):
        read_l2(path, product("SPL2SMAP_S"), GRID)


def test_cube_from_the_sample_year(raw, tmp_path):
    out = tmp_path / "cube.zarr"
    meta = build(region("txson"), YEAR, load_products(), raw=raw, out=out)
    ds = xr.open_zarr(out)
    assert ds["soil_moisture"].shape == (365, 36, 36) and ds.sizes["time"] == 365
    assert 0.9 < meta["missing_share"] < 0.99
    assert int(ds["observed"].sum()) == meta["observed_pixel_days"]
    assert np.array_equal(ds["observed"].values == 1, np.isfinite(ds["soil_moisture"].values))
    # the 9 km product interpolated between cell centres: the step across a 9 km cell edge is
    # the step beside it (a step-function product would put it all on the edge)
    sm9 = ds["sm_9km"].values
    assert np.isfinite(sm9).any()
    step = np.abs(np.diff(sm9, axis=2))
    edges = np.arange(8, 35, 9)
    across = np.nanmean(step[:, :, edges])
    beside = np.nanmean((step[:, :, edges - 1] + step[:, :, edges + 1]) / 2)
    assert beside > 0 and across < 1.1 * beside, (across, beside)
    # Daymet (Lambert conformal NetCDF) and the static GeoTIFFs, reprojected onto the grid
    assert np.isfinite(ds["tmax"].values).all() and np.isfinite(ds["prcp"].values).all()
    # the rain of the 60 days before the year, from the year before's file: the twin's weather
    # before the record, wet on some days (the model's rain indices open the year with it)
    before = ds["prcp_before"]
    assert before.dims == ("time_before", "y", "x") and before.shape == (60, 36, 36)
    days = ds["time_before"].values.astype("datetime64[D]")
    assert str(days[0]) == f"{YEAR - 1}-11-02" and str(days[-1]) == f"{YEAR - 1}-12-31"
    assert np.isfinite(before.values).all() and (before.mean(("y", "x")) > 0.5).sum() >= 3
    assert "prcp_before" not in Features.of(ds).dynamic
    assert set(np.unique(ds["land_cover"].values)) <= {4.0, 7.0, 10.0, 12.0}  # mode keeps classes
    assert float(ds["sand"].min()) > 10 and float(ds["sand"].max()) < 90  # percent after scale
    # the reissued scene: the cube holds the corrected _002 values, not the biased _001
    manifest = json.loads((raw / "manifest.json").read_text())
    rec = next(r for r in manifest["granules"].values() if r["name"].endswith("_002.h5"))
    day = np.datetime64(rec["day"])
    direct = read_l2(raw / rec["path"], product("SPL2SMAP_S"), GRID).values
    np.testing.assert_array_equal(ds["soil_moisture"].sel(time=day).values, direct)
    # CRS and grid read back by rioxarray
    import rioxarray  # noqa: F401

    sm = ds["soil_moisture"]
    assert sm.rio.crs.to_epsg() == 6933
    assert sm.rio.transform().a == pytest.approx(GRID.size) and sm.rio.bounds()[0] == pytest.approx(
        GRID.bounds()[0]
    )


def test_a_corrupt_granule_is_skipped_and_counted_or_fails_when_strict(raw, tmp_path):
    victim = sorted((raw / "SPL2SMAP_S").glob("*.h5"))[3]
    whole = victim.read_bytes()
    victim.write_bytes(whole[:2000])
    meta = build(region("txson"), YEAR, load_products(), raw=raw, out=tmp_path / "cube.zarr")
    assert meta["skipped_granules"] == [victim.name]
    # the granule whole again (re-downloaded): the next run rebuilds its block and reads it,
    # instead of calling the cube current without it
    victim.write_bytes(whole)
    again = build(region("txson"), YEAR, load_products(), raw=raw, out=tmp_path / "cube.zarr")
    assert not again.get("up_to_date") and again["rebuilt_blocks"] == 1
    assert again["skipped_granules"] == []
    assert again["observed_pixel_days"] > meta["observed_pixel_days"]
    third = build(region("txson"), YEAR, load_products(), raw=raw, out=tmp_path / "cube.zarr")
    assert third.get("up_to_date")
    victim.write_bytes(whole[:2000])  # as the strict build below expects
    with pytest.raises(GranuleError, match="corrupt or truncated"):
        build(
            region("txson"),
            YEAR,
            load_products(),
            raw=raw,
            out=tmp_path / "cube2.zarr",
            strict=True,
        )
    assert not (tmp_path / "cube2.zarr").exists()


def test_a_damaged_file_of_the_year_before_is_skipped_and_read_again_once_whole(raw, tmp_path):
    victim = raw / "daymet" / f"daymet_v4_daily_na_prcp_{YEAR - 1}.nc"
    whole = victim.read_bytes()
    victim.write_bytes(whole[:2000])
    out = tmp_path / "cube.zarr"
    meta = build(region("txson"), YEAR, load_products(), raw=raw, out=out)
    assert meta["skipped_granules"] == [victim.name]
    assert np.isnan(xr.open_zarr(out)["prcp_before"].values).all()  # read as no rain
    victim.write_bytes(whole)  # downloaded again: the next run reads it
    again = build(region("txson"), YEAR, load_products(), raw=raw, out=out)
    assert again["rebuilt_blocks"] == 1 and again["skipped_granules"] == []
    assert np.isfinite(xr.open_zarr(out)["prcp_before"].values).all()


def test_scenes_without_index_arrays_are_placed_by_lat_lon(tmp_path):
    import h5py

    path = _one_pixel_scene(tmp_path, 9, 4, 0.2)
    with h5py.File(path, "r+") as f:
        del f["Soil_Moisture_Retrieval_Data_1km/EASE_row_index_1km"]
        del f["Soil_Moisture_Retrieval_Data_1km/EASE_column_index_1km"]
    dec = read_l2(path, product("SPL2SMAP_S"), GRID)
    assert np.argwhere(np.isfinite(dec.values)).tolist() == [[9, 4]]


def test_pixels_outside_the_boundary_are_no_data(raw, tmp_path):
    import json as _json

    from pipeline.catalog import load_regions

    # a boundary around the western half of the txson cell
    lon0, lat0, lon1, lat1 = GRID.lonlat_bbox()
    mid = (lon0 + lon1) / 2
    ring = [
        [lon0 - 0.1, lat0 - 0.1],
        [mid, lat0 - 0.1],
        [mid, lat1 + 0.1],
        [lon0 - 0.1, lat1 + 0.1],
        [lon0 - 0.1, lat0 - 0.1],
    ]
    (tmp_path / "half.geojson").write_text(_json.dumps({"type": "Polygon", "coordinates": [ring]}))
    (tmp_path / "regions.toml").write_text(
        "[txson]\nbbox = [-98.96, 30.15, -98.59, 30.47]\nsnap = 'cell'\nboundary = 'half.geojson'\n"
    )
    reg = load_regions(tmp_path / "regions.toml")["txson"]
    inside = reg.inside()
    assert 0.4 < inside.mean() < 0.6 and inside[:, 0].all() and not inside[:, -1].any()
    build(reg, YEAR, load_products(), raw=raw, out=tmp_path / "cube.zarr")
    ds = xr.open_zarr(tmp_path / "cube.zarr")
    assert np.array_equal(ds["in_region"].values == 1, inside)
    assert np.isnan(ds["soil_moisture"].values[:, ~inside]).all()
    assert np.isfinite(ds["soil_moisture"].values[:, inside]).any()


def test_unchanged_blocks_are_kept_and_only_changed_days_rebuilt(raw, tmp_path):
    out = tmp_path / "cube.zarr"
    first = build(region("txson"), YEAR, load_products(), raw=raw, out=out)
    assert first["rebuilt_blocks"] == 12 and not first.get("up_to_date")
    again = build(region("txson"), YEAR, load_products(), raw=raw, out=out)
    assert again["up_to_date"] and again["fingerprint"] == first["fingerprint"]
    # a scene disappears from one day (as if withdrawn): only that day's 32-day block changes
    manifest = json.loads((raw / "manifest.json").read_text())
    gone = next(
        r
        for r in manifest["granules"].values()
        if r["name"].startswith("SMAP_L2") and r["day"] > f"{YEAR}-03-01"
    )
    manifest["granules"].pop(gone["name"])
    (raw / "manifest.json").write_text(json.dumps(manifest))
    before = xr.open_zarr(out)["soil_moisture"].values
    changed = build(region("txson"), YEAR, load_products(), raw=raw, out=out)
    assert changed["rebuilt_blocks"] == 1
    after = xr.open_zarr(out)["soil_moisture"].values
    day = (np.datetime64(gone["day"]) - np.datetime64(f"{YEAR}-01-01")).astype(int)
    assert np.isnan(after[day]).all() and np.isfinite(before[day]).any()
    others = np.ones(len(after), bool)
    others[day] = False
    np.testing.assert_array_equal(after[others], before[others])
    # and the incremental result equals a full rebuild
    full = build(
        region("txson"), YEAR, load_products(), raw=raw, out=tmp_path / "full.zarr", force=True
    )
    assert full["observed_pixel_days"] == changed["observed_pixel_days"]
    # the per-day counts of a partial rebuild (read back for its block, kept for the others)
    assert changed["observed_per_day"] == full["observed_per_day"]
    assert changed["observed_per_day"][day] == 0 < first["observed_per_day"][day]
    assert changed["observed_per_day"] == [int(n) for n in np.isfinite(after).sum((1, 2))]
    np.testing.assert_array_equal(
        xr.open_zarr(tmp_path / "full.zarr")["soil_moisture"].values, after
    )


def test_nasadem_zipped_hgt_tiles_are_read_in_place_and_mosaicked(tmp_path):
    from pipeline.grid import snapped_window
    from pipeline.sources.covariate_files import write_nasadem

    grid = snapped_window((-99.1, 30.4, -98.9, 30.6))  # straddles the -99 degree tile edge
    yy, xx = np.mgrid[0 : grid.height, 0 : grid.width]
    field = 300 + 80 * np.sin(xx / 9) + 40 * np.cos(yy / 7)
    paths = write_nasadem(tmp_path, field, grid)
    assert [p.name for p in paths] == ["NASADEM_HGT_n30w100.zip", "NASADEM_HGT_n30w099.zip"]
    elevation = product("elevation")
    tiles = [
        read_geotiff(p, elevation, elevation.variables["elevation"], grid).values for p in paths
    ]
    assert all(np.isnan(t).any() for t in tiles)  # each tile covers only its side
    mosaic = np.where(np.isnan(tiles[0]), tiles[1], tiles[0])
    assert np.isfinite(mosaic).all() and np.median(np.abs(mosaic - field)) < 2.0


def test_a_damaged_or_deleted_chunk_is_found_and_its_block_rebuilt(raw, tmp_path, caplog):
    out = tmp_path / "cube.zarr"
    build(region("txson"), YEAR, load_products(), raw=raw, out=out)
    with xr.open_zarr(out) as ds:
        before = {v: ds[v].values for v in ("soil_moisture", "sm_9km", "elevation")}
    chunks = sorted((out / "soil_moisture").glob("[0-9]*"))
    chunks[2].write_bytes(os.urandom(chunks[2].stat().st_size))  # bit rot that may still decode
    (out / "sm_9km" / chunks[5].name).unlink()  # deleted by hand: would read as empty
    with caplog.at_level("WARNING", logger="pipeline"):
        meta = build(region("txson"), YEAR, load_products(), raw=raw, out=out)
    assert "2 damaged chunk(s)" in caplog.text
    assert not meta.get("up_to_date") and meta["rebuilt_blocks"] == 2  # those two blocks only
    with xr.open_zarr(out) as ds:
        for v, arr in before.items():
            np.testing.assert_array_equal(ds[v].values, arr)
    assert build(region("txson"), YEAR, load_products(), raw=raw, out=out).get("up_to_date")
    # a field without time: every block is rebuilt
    static = next((out / "elevation").glob("[0-9]*"))
    static.write_bytes(b"\0" * 10)
    meta = build(region("txson"), YEAR, load_products(), raw=raw, out=out)
    assert meta["rebuilt_blocks"] == len(meta["blocks"])
    with xr.open_zarr(out) as ds:
        np.testing.assert_array_equal(ds["elevation"].values, before["elevation"])


def test_a_window_of_the_cube_carries_the_rain_before_the_year(raw, tmp_path):
    from pipeline.fill_inputs import window_arrays
    from pipeline.tile import Window

    out = tmp_path / "cube.zarr"
    build(region("txson"), YEAR, load_products(), raw=raw, out=out)
    ds = xr.open_zarr(out)
    w = Window(9, 18, 18, 12)
    arr = window_arrays(ds, Features.of(ds), w)
    assert arr.rain_before is not None and arr.rain_before.shape == (60, 18, 12)
    np.testing.assert_array_equal(arr.rain_before, ds["prcp_before"].values[:, 9:27, 18:30])
    have = Features.of(ds)
    without_rain = Features(tuple(n for n in have.dynamic if n != "prcp"), have.static)
    assert window_arrays(ds, without_rain, w).rain_before is None
