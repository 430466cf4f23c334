"""`python -m pipeline fill` end to end on the sample (txson in 16-pixel tiles), then what a GIS
user and a nightly job rely on: the files open with the right georeferencing, observed values
are untouched, re-runs do no work, a deleted file is rebuilt alone, bad inputs fail clearly."""

import dataclasses
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from typer.testing import CliRunner

from pipeline.__main__ import app
from pipeline.catalog import region

runner = CliRunner()
GRID = region("txson").grid


def _fill(data: Path, *extra: str):
    args = ["fill", "--region", "txson", "--year", "2022", "--source", "sample", "--data", str(data),
            "--size", "16", "--overlap", "4", "--budget", "4", "--baselines", "mean,linear", *extra]  # fmt: skip
    return runner.invoke(app, args)


@pytest.fixture(scope="module")
def run_dir(archive, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("data")
    (data / "sample-archive").symlink_to(archive)
    res = _fill(data)
    assert res.exit_code == 0, res.output
    assert "Created 1 records" not in res.output  # GDAL's per-file chatter stays out of the log
    assert "Receive client connection" not in res.output  # and dask's, without --debug
    assert "impute txson 2022" in res.output and "export txson 2022" in res.output
    return data / "txson" / "2022"


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


def test_stac_catalog_lists_the_days_and_the_netcdf(run_dir):
    import pystac

    cat = pystac.Catalog.from_file(str(run_dir / "export" / "stac" / "catalog.json"))
    items = list(cat.get_items(recursive=True))
    assert len(items) == 366
    day = next(i for i in items if i.id == "txson-2022-03-01")
    assert Path(day.assets["data"].get_absolute_href()).exists()
    assert Path(day.assets["style"].get_absolute_href()).suffix == ".qml"


def test_rerun_does_no_work_and_a_deleted_file_is_rebuilt_alone(run_dir):
    data = run_dir.parents[1]
    files = [p for p in (run_dir / "export").rglob("*") if p.is_file()]
    before = {p: p.stat().st_mtime_ns for p in files}
    res = _fill(data)
    assert res.exit_code == 0 and "everything is up to date" in res.output, res.output
    assert {p: p.stat().st_mtime_ns for p in files} == before
    gone = run_dir / "export" / "cog" / "txson_2022-06-15.tif"
    gone.unlink()
    res = _fill(data)
    assert res.exit_code == 0 and "1 files written" in res.output, res.output
    assert gone.exists()
    unchanged = [
        p
        for p in files
        if p != gone
        and "stac" not in p.parts
        and "report" not in p.parts
        and p.name != "export.json"
    ]
    assert all(p.stat().st_mtime_ns == before[p] for p in unchanged)


def _status(data: Path) -> dict:
    res = runner.invoke(
        app, ["status", "--region", "txson", "--year", "2022", "--data", str(data), "--json"]
    )
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_status_says_what_is_current_stale_or_missing_and_what_the_last_run_did(run_dir, tmp_path):
    data = run_dir.parents[1]
    state = _status(data)
    assert [s["state"] for s in state["stages"]] == ["current"] * 5, state
    last = state["last_run"]
    assert last["outcome"] == "done" and last["changed"] == ["export"]  # the rebuilt COG
    assert "python -m pipeline fill --region txson" in last["command"]
    log_text = Path(last["log"]).read_text()  # the run's own log file, with the DEBUG detail
    assert "everything is up to date" not in log_text and "export txson 2022" in log_text
    first = sorted(Path(last["log"]).parent.glob("txson-2022-fill-*.log"))[0].read_text()
    assert " DEBUG stimpute: st_transformer: best validation MAE" in first  # the detail
    # a deleted COG: the export is stale until the next run
    cog = run_dir / "export" / "cog" / "txson_2022-03-01.tif"
    kept = cog.read_bytes()
    cog.unlink()
    export = _status(data)["stages"][4]
    assert export["state"] == "stale" and "missing" in export["why"]
    cog.write_bytes(kept)
    # a granule the cube was not built from: the cube is stale, and says how many blocks
    copy = tmp_path / "data"
    shutil.copytree(run_dir, copy / "txson" / "2022", ignore=shutil.ignore_patterns("*.tif"))
    manifest_path = copy / "txson" / "2022" / "raw" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    name, rec = next(
        (k, v) for k, v in manifest["granules"].items() if v["product"] == "SPL2SMAP_S"
    )
    manifest["granules"][name] = {**rec, "checksum": "reissued"}
    manifest_path.write_text(json.dumps(manifest))
    cube, *after = _status(copy)["stages"][1:]
    assert cube["state"] == "stale" and cube["why"].startswith("1 block(s) changed"), cube
    # what the next run rebuilds after the cube is not called current (the copy left out the
    # COGs, which the export's own state says first)
    assert [(s["state"], s["why"]) for s in after] == [
        ("stale", "follows the cube stage, which is stale"),
        ("stale", "follows the cube stage, which is stale"),
        ("stale", "files are missing: the next run rewrites them"),
    ]
    assert _status(copy)["last_run"] is None  # records live beside the lock, not in the year


def test_a_cut_short_or_altered_export_file_is_remade_by_the_next_run(run_dir):
    cog = run_dir / "export" / "cog" / "txson_2022-07-01.tif"
    whole = cog.read_bytes()
    cog.write_bytes(whole[: len(whole) // 2])  # what a full disk left under the final name
    item = next((run_dir / "export" / "stac").rglob("*2022-07-02*.json"))
    kept = item.read_bytes()
    item.write_bytes(kept.replace(b"2022-07-02", b"2022-07-03", 1))  # altered by hand
    res = _fill(run_dir.parents[1])
    assert res.exit_code == 0 and "1 files written" in res.output, res.output
    assert cog.read_bytes() == whole and item.read_bytes() == kept
    res = _fill(run_dir.parents[1])  # and then nothing more to do
    assert "everything is up to date" in res.output, res.output


def test_interrupted_export_leaves_no_half_file_and_a_rerun_completes(run_dir, monkeypatch):
    from pipeline import export

    cog = run_dir / "export" / "cog"
    for day in ("2022-02-01", "2022-02-02", "2022-02-03"):
        (cog / f"txson_{day}.tif").unlink()
    real, calls = export.write_cog, []

    def dying(bands, path, *a, **k):
        calls.append(path)
        if len(calls) == 2:
            with open(path.with_name(path.name + ".part"), "wb") as f:
                f.write(b"half")  # what a kill leaves mid-write...
            raise KeyboardInterrupt
        return real(bands, path, *a, **k)

    monkeypatch.setattr(export, "write_cog", dying)
    res = _fill(run_dir.parents[1], "--workers", "0")  # in this process, where the patch is
    assert res.exit_code == 130 and "interrupted" in res.output
    monkeypatch.setattr(export, "write_cog", real)
    res = _fill(run_dir.parents[1], "--workers", "0")
    assert res.exit_code == 0 and "2 files written" in res.output, res.output
    assert not list(run_dir.rglob("*.part"))  # ...is gone once the re-run completes
    with rasterio.open(cog / "txson_2022-02-02.tif") as src:
        assert src.read(1).shape == (36, 36)


def test_the_netcdf_passes_the_cf_checker_for_the_cf_version_it_declares(run_dir, tmp_path):
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    nc = run_dir / "export" / "txson_2022.nc"
    with xr.open_dataset(nc) as ds:
        version = ds.attrs["Conventions"].removeprefix("CF-")
        assert "longitude_of_central_meridian" in ds["spatial_ref"].attrs
    CheckSuite().load_all_available_checkers()
    report = tmp_path / "cf.json"
    ComplianceChecker.run_checker(str(nc), [f"cf:{version}"], 0, "normal",
                                  output_filename=str(report), output_format="json")  # fmt: skip
    checked = json.loads(report.read_text())[f"cf:{version}"]
    errors = [
        f"{check['name']}: {msg}"
        for check in checked["high_priorities"]
        if check["value"][0] < check["value"][1]
        for msg in check["msgs"]
        # checker fault (6.1.0, cf/appendix_f.py): the one required attribute of
        # lambert_cylindrical_equal_area is a string, not a tuple, so each of its letters is
        # reported missing; the attribute itself is checked above
        if not (len(msg.split(" ", 1)[0]) == 1 and "lambert_cylindrical_equal_area" in msg)
    ]
    assert not errors, errors


def test_the_stac_catalog_and_items_validate_against_the_spec(run_dir):
    from stac_pydantic import Catalog, Item

    stac = run_dir / "export" / "stac"
    Catalog.model_validate(json.loads((stac / "catalog.json").read_text()))
    items = sorted(stac.glob("*/*.json"))
    assert len(items) == 366
    for path in items:
        item = json.loads(path.read_text())
        Item.model_validate(item)
        if any(k.startswith("proj:") for k in item["properties"]):  # the extension is declared
            assert any("/projection/" in e for e in item["stac_extensions"]), path.name


def test_a_rebuilt_export_is_the_same_bytes(run_dir, tmp_path):
    """No wall-clock time inside a product: rebuilt from the same fill, every file is identical
    (the run's own record, export.json, and the report say when). The NetCDF holds the same
    values and attributes, but not yet the same bytes: HDF5 lays its chunks out in the order
    dask writes them, which differs from one process to the next."""
    import hashlib

    out = run_dir / "export"

    def digests() -> dict[str, str]:
        return {
            str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*"))
            if p.is_file() and "report" not in p.parts and p.name != "export.json"
        }

    before = digests()
    out.rename(tmp_path / "export-before")
    try:
        res = runner.invoke(app, ["export", "--region", "txson", "--year", "2022",
                                  "--data", str(run_dir.parents[1]), "--workers", "0"])  # fmt: skip
        assert res.exit_code == 0, res.output
        after = digests()
        with (
            xr.open_dataset(tmp_path / "export-before" / "txson_2022.nc") as a,
            xr.open_dataset(out / "txson_2022.nc") as b,
        ):
            assert a.attrs == b.attrs
            for name in ("soil_moisture", "soil_moisture_uncertainty", "flag"):
                np.testing.assert_array_equal(a[name].values, b[name].values)
    finally:
        shutil.rmtree(out, ignore_errors=True)
        (tmp_path / "export-before").rename(out)
    assert after.keys() == before.keys()
    assert [k for k in before if before[k] != after[k]] in ([], ["txson_2022.nc"])


def test_the_qgis_project_names_every_output_by_a_relative_path(run_dir):
    out = run_dir / "export"
    root = ET.parse(out / "txson_2022.qgs").getroot()
    layers = {m.get("type"): m for m in root.iter("maplayer")}
    assert sorted(layers) == ["mesh", "raster", "vector"] and len(list(root.iter("maplayer"))) == 4
    for m in root.iter("maplayer"):
        source = m.findtext("datasource").split("|")[0]
        assert source.startswith("./") and (out / source).exists(), source
    assert layers["mesh"].find("temporal").get("start-time-extent") == "2022-01-01T00:00:00Z"


def _qgis_python() -> str | None:
    """An interpreter with PyQGIS: $QGIS_PYTHON, else Debian's python3 with python3-qgis."""
    for exe in filter(None, (os.environ.get("QGIS_PYTHON"), "/usr/bin/python3")):
        try:
            found = subprocess.run([exe, "-c", "import qgis.core"], capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if found.returncode == 0:
            return exe
    return None


def test_the_qgis_project_opens_in_a_real_qgis(run_dir):
    exe = _qgis_python()
    if exe is None:
        pytest.skip("no QGIS here: `make qgis-check` installs Debian's python3-qgis and runs this")
    check = Path(__file__).parents[1] / "qgis_check.py"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(run_dir.parent)}
    res = subprocess.run([exe, str(check), str(run_dir / "export" / "txson_2022.qgs")],
                         capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    seen = json.loads(res.stdout.strip().splitlines()[-1])
    assert (
        seen["read"] and seen["crs"] == "EPSG:6933" and seen["time"] == ["2022-01-01", "2022-12-31"]
    )
    kinds = {layer["kind"]: layer for layer in seen["layers"]}
    assert all(layer["valid"] and layer["crs"] == "EPSG:6933" for layer in seen["layers"])
    mesh = kinds["mesh"]
    assert mesh["temporal"] and mesh["time"] == ["2022-01-01", "2022-12-31"]
    assert mesh["shows"].startswith("surface soil moisture") and mesh["ramp"][0] == [0.0, "#8c510a"]
    assert kinds["raster"]["renderer"] == "singlebandpseudocolor"
    assert (
        sorted(layer["features"] for layer in seen["layers"] if layer["kind"] == "vector")[0] >= 1
    )


def test_a_full_disk_in_the_export_is_one_line_and_the_outputs_stay(run_dir, monkeypatch):
    import errno

    from pipeline import export

    cog = run_dir / "export" / "cog"
    (cog / "txson_2022-04-01.tif").unlink()
    kept = [p for p in (run_dir / "export").rglob("*") if p.is_file()]
    before = {p: p.stat().st_mtime_ns for p in kept}

    def full(bands, path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(export, "write_cog", full)
    res = _fill(run_dir.parents[1], "--workers", "0")
    assert res.exit_code == 2, res.output
    assert (
        "disk full while writing export days 2022-03-" in res.output
        and "Traceback" not in res.output
    )
    assert {p: p.stat().st_mtime_ns for p in kept} == before  # nothing written was touched
    monkeypatch.undo()
    res = _fill(run_dir.parents[1], "--workers", "0")
    assert res.exit_code == 0 and "1 files written" in res.output, res.output


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
    from pipeline.fill import Settings, reusable
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


def test_a_region_checkpoint_is_used_by_the_next_fill(run_dir):
    data = run_dir.parents[1]
    args = ["--region", "txson", "--data", str(data), "--device", "cpu"]
    res = runner.invoke(
        app,
        ["train", *args, "--years", "2022", "--budget", "3", "--area", "36", "--source", "sample"],
    )
    assert res.exit_code == 0, res.output
    fill_state, export_state = _status(data)["stages"][3:]
    assert fill_state["state"] == "stale" and "checkpoint the fill did not use" in fill_state["why"]
    assert export_state["why"] == "follows the fill stage, which is stale"
    meta = json.loads((data / "models" / "txson" / "model.json").read_text())
    assert meta["years"] == [2022] and meta["features"]["dynamic"] and meta["code_version"]
    res = runner.invoke(app, ["impute", *args, "--year", "2022", "--baselines", "none"])
    assert res.exit_code == 0 and "region checkpoint trained on 2022" in res.output, res.output
    fill = json.loads((run_dir / "fill.json").read_text())
    assert fill["model"]["sha256"] == meta["sha256"]
