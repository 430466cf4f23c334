"""Every argument is checked before any work: one line naming it, exit 2, nothing written."""

import os

import pytest
from typer.testing import CliRunner

from pipeline.__main__ import app
from pipeline.arguments import check_years

runner = CliRunner()
BASE = ["fill", "--region", "txson", "--source", "sample"]


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--year", "1850"], "--year 1850: SMAP"),
        (["--year", "0"], "--year 0: SMAP"),
        (["--year", "-5"], "--year -5: SMAP"),
        (["--year", "99999"], "--year 99999: SMAP"),
        (["--device", "tpu"], "--device 'tpu': give one of auto, cpu, cuda"),
        (["--baselines", "mean,bogus"], "--baselines bogus: unknown"),
        (["--crs", "EPSG:999999"], "--crs EPSG:999999: not a coordinate reference system"),
        (["--budget", "-5"], "--budget -5.0: give the seconds"),
        (["--budget", "0"], "--budget 0.0: give the seconds"),
        (["--budget", "nan"], "--budget nan: give the seconds"),
        (["--holdout", "-0.1"], "--holdout -0.1: give the share"),
        (["--holdout", "1.5"], "--holdout 1.5: give the share"),
        (["--holdout-by", "scene"], "--holdout-by scene: choose block or point"),
        (["--size", "1"], "--size 1 --overlap 4: give a tile size"),
        (["--size", "36", "--overlap", "40"], "--size 36 --overlap 40"),
    ],
)
def test_a_bad_argument_stops_the_run_before_any_work(tmp_path, extra, says):
    args = [*BASE, "--data", str(tmp_path / "data"), *extra]
    if "--year" not in extra:
        args += ["--year", "2022"]
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert says in res.output and "Traceback" not in res.output, res.output
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.*"))


def test_cuda_on_a_machine_without_it_is_one_line(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    res = runner.invoke(app, [*BASE, "--year", "2022", "--data", str(tmp_path), "--device", "cuda"])
    assert (
        res.exit_code == 2
        and "--device cuda: torch" in res.output
        and "sees no CUDA GPU" in res.output
    )


def test_data_naming_a_file_is_one_line(tmp_path):
    afile = tmp_path / "not-a-dir"
    afile.write_text("x")
    res = runner.invoke(app, [*BASE, "--year", "2022", "--data", str(afile)])
    assert res.exit_code == 2 and "this is a file; give a directory" in res.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_a_read_only_data_directory_is_one_line(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        res = runner.invoke(app, [*BASE, "--year", "2022", "--data", str(ro / "data")])
        assert res.exit_code == 2 and "is not writable by this user" in res.output
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize(
    ("years", "says"),
    [
        ("2019-x", "--years '2019-x': write a range like 2016-2021"),
        ("", "--years '': write a range"),
        ("2022-2019", "--years '2022-2019': write a range"),
        ("1850,2021", "--years 1850,2021: SMAP (SPL2SMAP_S) covers 2015 to"),
    ],
)
def test_bad_training_years_stop_before_any_work(tmp_path, years, says):
    data = tmp_path / "data"
    res = runner.invoke(app, ["train", "--region", "txson", "--years", years, "--data", str(data)])
    assert res.exit_code == 2, res.output
    assert says in res.output and "Traceback" not in res.output, res.output
    assert not data.exists() or not any(data.rglob("*.*"))


def test_training_years_read_as_a_range_or_a_list():
    assert check_years("2016-2018") == [2016, 2017, 2018]
    assert check_years("2019,2021") == [2019, 2021]
