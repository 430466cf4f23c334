"""The year in progress: a run of the current year fills through the newest day with data and
says which; the next day's run reaches further (the sample publishes days as they come)."""

import json
from datetime import date

import xarray as xr
from typer.testing import CliRunner

from pipeline import year as year_module
from pipeline.__main__ import app

runner = CliRunner()


def _fill(data, today, monkeypatch):
    monkeypatch.setattr(year_module, "today", lambda: today)
    args = ["fill", "--region", "txson", "--year", "2022", "--source", "sample", "--data",
            str(data), "--size", "16", "--overlap", "4", "--budget", "3", "--baselines", "none",
            "--workers", "0"]  # fmt: skip
    return runner.invoke(app, args)


def test_the_year_in_progress_fills_through_the_newest_day_and_grows(tmp_path, monkeypatch):
    res = _fill(tmp_path, date(2022, 3, 20), monkeypatch)  # granules three days behind
    assert res.exit_code == 0, res.output
    assert "the year in progress, with data through 2022-03-17 (76 days)" in res.output
    folder = tmp_path / "txson" / "2022"
    with xr.open_zarr(folder / "filled.zarr") as ds:
        assert ds.sizes["time"] == 76 and str(ds.time.values[-1])[:10] == "2022-03-17"
    cogs = sorted(p.name for p in (folder / "export" / "cog").glob("*.tif"))
    assert len(cogs) == 76 and cogs[-1] == "txson_2022-03-17.tif"
    # the next night: two more days published, the run reaches them
    res = _fill(tmp_path, date(2022, 3, 22), monkeypatch)
    assert res.exit_code == 0, res.output
    assert "data through 2022-03-19 (78 days)" in res.output
    with xr.open_zarr(folder / "filled.zarr") as ds:
        assert ds.sizes["time"] == 78 and str(ds.time.values[-1])[:10] == "2022-03-19"
    assert len(list((folder / "export" / "cog").glob("*.tif"))) == 78
    # the sample rewrites its yearly Daymet files with the new days, and every block depends on
    # them: every block is rebuilt and the fill runs whole (a refill needs unchanged blocks)
    assert json.loads((folder / "cube.json").read_text())["rebuilt_blocks"] == 3
    assert json.loads((folder / "fill.json").read_text())["refill"] is None
