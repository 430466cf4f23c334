"""Bad inputs to the fill chain: each is one line that says what to do, and nothing is corrupted."""

import shutil

import numpy as np
import pytest
import zarr
from typer.testing import CliRunner

from pipeline.__main__ import app
from pipeline.catalog import load_products, region
from pipeline.cube import build, open_cube
from pipeline.errors import CubeError, FillError
from pipeline.fill import Settings
from pipeline.fill import run as fill_run
from pipeline.tile import run as tile_run

runner = CliRunner()


@pytest.fixture
def year_dir(raw, tmp_path):
    folder = tmp_path / "txson" / "2022"
    folder.mkdir(parents=True)
    shutil.move(str(raw), folder / "raw")
    build(region("txson"), 2022, load_products(), raw=folder / "raw", out=folder / "cube.zarr")
    return folder


def test_fill_without_credentials_stops_at_once_naming_the_fix(tmp_path, monkeypatch):
    for var in ("EARTHDATA_USERNAME", "EARTHDATA_PASSWORD", "EARTHDATA_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    res = runner.invoke(
        app,
        [
            "fill",
            "--region",
            "texas",
            "--year",
            "2022",
            "--source",
            "earthdata",
            "--data",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 2 and "SOURCE=sample" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_unknown_region_lists_the_known_ones(tmp_path):
    res = runner.invoke(
        app,
        [
            "fill",
            "--region",
            "narnia",
            "--year",
            "2022",
            "--source",
            "sample",
            "--data",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 2 and "txson" in res.output and "texas" in res.output


def test_a_year_without_data_says_which_stage_to_run(tmp_path):
    res = runner.invoke(
        app, ["impute", "--region", "txson", "--year", "2021", "--data", str(tmp_path)]
    )
    assert res.exit_code == 2 and "no cube" in res.output and "cube stage" in res.output


def test_a_corrupted_cube_is_a_clear_error(year_dir):
    for meta in (year_dir / "cube.zarr").rglob(".z*"):
        meta.write_text("{not json")
    with pytest.raises(CubeError, match="not a readable cube.*--force"):
        open_cube(year_dir / "cube.zarr")


def test_an_all_missing_cube_fails_before_writing_anything(year_dir, tmp_path):
    tile_run(year_dir, region("txson").grid, size=36)
    z = zarr.open_group(year_dir / "cube.zarr", mode="r+")
    z["soil_moisture"][:] = np.nan
    with pytest.raises(FillError, match="no observed value"):
        fill_run(year_dir, "txson", 2022, tmp_path, Settings(train_budget_s=2, baselines=()))
    assert not (year_dir / "filled.zarr").exists() and not list(year_dir.glob("*.part"))


def test_a_tile_without_observations_is_filled_from_covariates(year_dir, tmp_path, caplog):
    z = zarr.open_group(year_dir / "cube.zarr", mode="r+")
    sm = z["soil_moisture"][:]
    sm[:, :20, :20] = np.nan  # the first 16-pixel tile (rows and cols 0-15) never observed
    z["soil_moisture"][:] = sm
    tile_run(year_dir, region("txson").grid, size=16, overlap=4)
    record = fill_run(year_dir, "txson", 2022, tmp_path, Settings(train_budget_s=2, baselines=()))
    assert record["tiles_without_observations"] == 1
    assert "no observation all year" in caplog.text
    filled = open_cube(year_dir / "filled.zarr")  # the same reader opens any of our stores
    corner = filled["soil_moisture"][:, :16, :16].values
    assert np.isfinite(corner).all() and (filled["flag"][:, :16, :16].values == 2).all()
