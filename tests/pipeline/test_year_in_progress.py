"""The year in progress: a run of the current year fills through the newest day with data and
says which; the next day's run reaches further (the sample publishes days as they come)."""

import json
from datetime import date

import numpy as np
import xarray as xr
from typer.testing import CliRunner

from pipeline import year as year_module
from pipeline.__main__ import app
from pipeline.export import provenance
from pipeline.export_netcdf import write_netcdf

runner = CliRunner()


def _fill(data, today, monkeypatch):
    monkeypatch.setattr(year_module, "today", lambda: today)
    args = ["fill", "--region", "txson", "--year", "2022", "--source", "sample", "--data",
            str(data), "--size", "16", "--overlap", "4", "--budget", "3", "--baselines", "none",
            "--workers", "0"]  # fmt: skip
    return runner.invoke(app, args)


def _truth_from_the_first_day(folder):
    """The sample's truth score of the product in `folder`, the whole year walked afresh."""
    from pipeline.catalog import region
    from pipeline.fill_truth import FilledDays, day_sum, score
    from pipeline.sources.sample import truth

    with xr.open_zarr(folder / "filled.zarr", chunks=None) as ds:
        days = FilledDays(ds)
        sums = [day_sum(*days.day(t), d) for t, d in enumerate(truth(region("txson"), 2022))]
    return score(np.array(sums))


def test_the_year_in_progress_fills_through_the_newest_day_and_grows(tmp_path, monkeypatch):
    res = _fill(tmp_path, date(2022, 3, 20), monkeypatch)  # granules three days behind
    assert res.exit_code == 0, res.output
    assert "the year in progress, with data through 2022-03-17 (76 days)" in res.output
    folder = tmp_path / "txson" / "2022"
    with xr.open_zarr(folder / "filled.zarr") as ds:
        assert ds.sizes["time"] == 76 and str(ds.time.values[-1])[:10] == "2022-03-17"
    cogs = sorted(p.name for p in (folder / "export" / "cog").glob("*.tif"))
    assert len(cogs) == 76 and cogs[-1] == "txson_2022-03-17.tif"
    with xr.open_zarr(folder / "filled.zarr") as ds:
        night1 = ds["soil_moisture"].values
    cog_dir = folder / "export" / "cog"
    stamps = {p.name: p.stat().st_mtime_ns for p in cog_dir.glob("*.tif")}
    files = {p: p.stat().st_mtime_ns for p in (folder / "export").rglob("*") if p.is_file()}
    # Daymet publishes whole years: the year in progress goes without it, and says so
    assert "no daymet for 2022: it is published a year at a time" in res.output
    with xr.open_zarr(folder / "cube.zarr") as ds:
        assert "prcp" not in ds and "tmax" not in ds
    # the next night: two more days published, the run reaches them
    res = _fill(tmp_path, date(2022, 3, 22), monkeypatch)
    assert res.exit_code == 0, res.output
    assert "data through 2022-03-19 (78 days)" in res.output
    # the cube rebuilds the block that grew; the fill, with the model reused, runs the windows of
    # the two new days and writes them alone; the export writes their COGs alone
    assert json.loads((folder / "cube.json").read_text())["rebuilt_blocks"] == 1
    fill = json.loads((folder / "fill.json").read_text())
    assert fill["refill"]["days_new"] == 2 and fill["refill"]["days_rewritten"] == 2, fill["refill"]
    assert fill["refill"]["rewritten"] == [[76, 77]]
    assert "2 new day(s) since the last fill" in res.output
    with xr.open_zarr(folder / "filled.zarr") as ds:
        assert ds.sizes["time"] == 78 and str(ds.time.values[-1])[:10] == "2022-03-19"
        np.testing.assert_array_equal(ds["soil_moisture"].values[:76], night1)  # kept as published
        assert np.isfinite(ds["soil_moisture"].values[76:]).mean() > 0.9
    # the truth score walked the twin on from the night before and scored the two new days;
    # its figure is the one a walk over the whole year gives
    assert "(2 day(s) scored" in res.output
    assert fill["truth"] == _truth_from_the_first_day(folder), fill["truth"]
    cogs = {p.name: p.stat().st_mtime_ns for p in cog_dir.glob("*.tif")}
    assert len(cogs) == 78
    assert sorted(n for n in cogs if stamps.get(n) != cogs[n]) == [
        "txson_2022-03-18.tif",
        "txson_2022-03-19.tif",
    ]
    export = json.loads((folder / "export" / "export.json").read_text())
    assert export["cogs_written"] == 2
    # its tasks: the NetCDF and the one span of days that holds the new days (the earlier days,
    # which the refill kept, are not read again to be compared)
    assert export["tasks"] == 2, export["tasks"]
    # the NetCDF: the two days appended in place, and it reads as a whole rewrite would
    assert export["netcdf_days_written"] == 2
    (tmp_path / "whole").mkdir()
    with xr.open_zarr(folder / "filled.zarr") as ds:
        attrs = provenance(json.loads((folder / "fill.json").read_text()))
        whole = write_netcdf(ds, tmp_path / "whole" / "txson_2022.nc", attrs)
    with (
        xr.open_dataset(folder / "export" / "txson_2022.nc") as got,
        xr.open_dataset(whole) as want,
    ):
        xr.testing.assert_identical(got.load(), want.load())
    # what else moved: the NetCDF, the STAC catalog (the new days' items are new files), the
    # project (it names the newest day), the tile index (each tile's observed share) and the
    # report's text and time series; every other file, the earlier days' items included, and
    # the report's map (the same day, whose values did not change) keep their bytes and time
    moved = {
        str(p.relative_to(folder / "export")) for p, t in files.items() if p.stat().st_mtime_ns != t
    }
    assert moved == {
        "txson_2022.nc", "txson_2022.qgs", "tiles.gpkg", "export.json", "stac/catalog.json",
        "report/report.md", "report/series.png",
    }, moved  # fmt: skip


def test_a_replayed_night_reads_its_date_from_the_environment(tmp_path):
    args = ["fill", "--region", "txson", "--year", "2022", "--source", "sample", "--data",
            str(tmp_path), "--workers", "0"]  # fmt: skip
    res = runner.invoke(app, args, env={"STIMPUTE_TODAY": "yesterday"})
    assert res.exit_code == 2, res.output
    assert (
        res.output.strip()
        .splitlines()[-1]
        .endswith(
            "STIMPUTE_TODAY='yesterday' is not a date: give YYYY-MM-DD, or unset it to use the clock"
        )
    ), res.output
    assert not (tmp_path / "txson" / "2022" / "raw").exists()  # refused before any download
