"""`python -m pipeline fill` end to end on the sample (txson in 16-pixel tiles): the files a
GIS user opens, with the right georeferencing and observed values untouched, and the model a
fill uses (shared run: the `run_dir` fixture)."""

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr

from pipeline.__main__ import app
from pipeline.catalog import region
from tests.pipeline.txson_run import runner, status_of

GRID = region("txson").grid


def test_outputs_exist(run_dir):
    export = run_dir / "export"
    assert (export / "txson_2022.nc").exists()
    assert len(list((export / "cog").glob("*.tif"))) == 365
    assert len(list((export / "cog").glob("*.qml"))) == 365
    for name in ("report.md", "map.png", "series.png"):
        assert (export / "report" / name).stat().st_size > 0
    assert not list(run_dir.rglob("*.part"))


def test_geotiffs_are_georeferenced_cogs(run_dir):
    from rio_cogeo.cogeo import cog_validate

    tifs = sorted((run_dir / "export" / "cog").glob("*.tif"))
    for tif in tifs:
        with rasterio.open(tif) as src:
            assert src.crs.to_epsg() == 6933
            assert src.transform.to_gdal() == pytest.approx(GRID.transform)
            assert src.nodata == -9999.0 and src.count == 3
            assert src.descriptions[0].startswith("soil_moisture")
            assert src.overviews(1)  # internal overviews, even at 36 x 36 pixels
    for tif in tifs[::90]:
        valid, errors, _ = cog_validate(str(tif))
        assert valid, errors


def test_qml_styles_sit_beside_each_tif(run_dir):
    tif = next((run_dir / "export" / "cog").glob("*.tif"))
    root = ET.parse(tif.with_suffix(".qml")).getroot()
    renderer = root.find("pipe/rasterrenderer")
    assert renderer.get("type") == "singlebandpseudocolor" and renderer.get("band") == "1"
    assert (renderer.get("classificationMin"), renderer.get("classificationMax")) == ("0.0", "0.5")


def test_netcdf_reads_in_xarray_and_gdal_with_its_grid(run_dir):
    nc = run_dir / "export" / "txson_2022.nc"
    ds = xr.open_dataset(nc, decode_coords="all")
    assert ds.rio.crs.to_epsg() == 6933
    assert ds.attrs["Conventions"] == "CF-1.8" and "model_checkpoint_sha256" in ds.attrs
    assert ds["flag"].attrs["flag_meanings"] == "no_data observed filled"
    assert ds["soil_moisture"].attrs["units"] == "m3 m-3"
    with rasterio.open(f"netcdf:{nc}:soil_moisture") as src:
        assert src.crs.to_epsg() == 6933 and src.count == 365
        assert src.transform.to_gdal() == pytest.approx(GRID.transform)


def test_values_observed_bit_identical_filled_in_range(run_dir):
    cube = xr.open_zarr(run_dir / "cube.zarr")
    ds = xr.open_dataset(run_dir / "export" / "txson_2022.nc")
    obs = cube["observed"].values.astype(bool)
    sm = ds["soil_moisture"].values
    assert np.array_equal(
        sm[obs].view(np.uint32), cube["soil_moisture"].values[obs].view(np.uint32)
    )
    flag = ds["flag"].values
    assert (flag[obs] == 1).all() and (flag[~obs] == 2).all()  # txson is all land
    assert np.isfinite(sm).all() and sm.min() >= 0.02 and sm.max() <= 0.5
    unc = ds["soil_moisture_uncertainty"].values
    assert (unc[obs] == 0).all() and (unc[~obs] > 0).all()


def test_run_report_states_held_out_metrics_against_baselines(run_dir):
    fill = json.loads((run_dir / "fill.json").read_text())
    methods = {m["method"] for m in fill["metrics"]}
    assert {"st_transformer", "mean", "linear"} <= methods
    assert fill["holdout"]["points"] > 100
    report = (run_dir / "export" / "report" / "report.md").read_text()
    assert "| st_transformer | scored |" in report and "| linear | scored |" in report
    # the sample knows its truth: every filled value is scored against it
    truth = fill["truth"]
    assert truth["values"] == fill["values"]["filled"] and 0 < truth["mae"] < 0.1
    assert f"MAE {truth['mae']:.4f}" in report
    # one 36 km block: too few block-days in half the check to scale the std on
    unc = fill["uncertainty"]
    assert not unc["fitted"] and unc["std_factor"] == 1.0 and unc["block_days"] < 20
    row = next(m for m in fill["metrics"] if m["method"] == "st_transformer")
    assert row["coverage_values"] == row["points"]  # the intervals scored on every check value
    assert "too few (at least 20) to scale them on" in report


def test_stac_catalog_lists_the_days_and_the_netcdf(run_dir):
    import pystac

    cat = pystac.Catalog.from_file(str(run_dir / "export" / "stac" / "catalog.json"))
    items = list(cat.get_items(recursive=True))
    assert len(items) == 366
    day = next(i for i in items if i.id == "txson-2022-03-01")
    assert Path(day.assets["data"].get_absolute_href()).exists()
    assert Path(day.assets["style"].get_absolute_href()).suffix == ".qml"


def test_notebook_runs_top_to_bottom_on_the_outputs(run_dir, monkeypatch):
    from tests.notebooks import run

    monkeypatch.setenv("STIMPUTE_DATA", str(run_dir.parents[1]))
    run(Path(__file__).parents[2] / "notebooks" / "explore_fill.ipynb", timeout=300)


def test_geographic_cog_on_request(run_dir, tmp_path):
    from rio_cogeo.cogeo import cog_validate

    from pipeline.export_formats import VARIABLES, day_bands, write_cog

    filled = xr.open_zarr(run_dir / "filled.zarr")
    block = {n: filled[n].values for n in VARIABLES}
    with rasterio.open(run_dir / "export" / "cog" / "txson_2022-01-01.tif") as src:
        transform = src.transform
    out = write_cog(
        day_bands(block, 0), tmp_path / "geo.tif", transform, "EPSG:6933", "EPSG:4326", {}
    )
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 4326
        west, south, east, north = src.bounds
        assert -99.0 < west < -98.9 and 30.4 < north < 30.5
        data = src.read(1)
    assert cog_validate(str(out))[0]
    original = day_bands(block, 0)[0]
    assert set(np.unique(data[data != -9999.0])) <= set(
        np.unique(original)
    )  # nearest: no new values


def test_the_fill_retrains_its_own_checkpoint_when_the_recipe_changes(run_dir):
    from pipeline.cube import open_cube
    from pipeline.fill_model import Settings, reusable
    from pipeline.train import find

    ckpt = find(run_dir / "model")
    cube = open_cube(run_dir / "cube.zarr")
    same = Settings(train_budget_s=4.0)  # what the run's fill trained with
    assert reusable(ckpt, cube, 2022, same)
    assert not reusable(ckpt, cube, 2022, dataclasses.replace(same, train_budget_s=5.0))
    assert not reusable(ckpt, cube, 2022, dataclasses.replace(same, train_area=72))
    # a checkpoint from a version that built another model (before recipes were recorded)
    old = dataclasses.replace(ckpt, meta={k: v for k, v in ckpt.meta.items() if k != "recipe"})
    assert not reusable(old, cube, 2022, same)


def test_a_region_checkpoint_is_used_by_the_nextfill_txson(run_dir):
    data = run_dir.parents[1]
    args = ["--region", "txson", "--data", str(data), "--device", "cpu"]
    res = runner.invoke(
        app,
        ["train", *args, "--years", "2022", "--budget", "3", "--area", "36", "--source", "sample"],
    )
    assert res.exit_code == 0, res.output
    fill_state, export_state = status_of(data)["stages"][3:]
    assert fill_state["state"] == "stale" and "checkpoint the fill did not use" in fill_state["why"]
    assert export_state["why"] == "follows the fill stage, which is stale"
    meta = json.loads((data / "models" / "txson" / "model.json").read_text())
    assert meta["years"] == [2022] and meta["features"]["dynamic"] and meta["code_version"]
    res = runner.invoke(app, ["impute", *args, "--year", "2022", "--baselines", "none"])
    assert res.exit_code == 0 and "region checkpoint trained on 2022" in res.output, res.output
    fill = json.loads((run_dir / "fill.json").read_text())
    assert fill["model"]["sha256"] == meta["sha256"]
