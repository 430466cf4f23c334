"""The command line: one-line errors with exit code 2, and the sample chain end to end."""

import json

from typer.testing import CliRunner

from pipeline.__main__ import app

runner = CliRunner()


def test_unknown_region_is_one_line_and_exit_2(tmp_path):
    res = runner.invoke(
        app,
        [
            "download",
            "--region",
            "atlantis",
            "--year",
            "2022",
            "--source",
            "sample",
            "--data",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 2
    assert "unknown region 'atlantis'" in res.output and "Traceback" not in res.output


def test_earthdata_without_credentials_names_the_offline_way(tmp_path, monkeypatch):
    for var in ("EARTHDATA_USERNAME", "EARTHDATA_PASSWORD", "EARTHDATA_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    res = runner.invoke(
        app,
        [
            "download",
            "--region",
            "txson",
            "--year",
            "2022",
            "--source",
            "earthdata",
            "--data",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 2 and "SOURCE=sample" in res.output


def test_cube_before_download_says_what_to_run(tmp_path):
    res = runner.invoke(
        app, ["cube", "--region", "txson", "--year", "2022", "--data", str(tmp_path)]
    )
    assert res.exit_code == 2 and "run the download stage first" in res.output


def test_sample_download_then_cube(tmp_path, archive):
    (tmp_path / "sample-archive").symlink_to(archive)
    args = ["--region", "txson", "--year", "2022", "--data", str(tmp_path)]
    assert runner.invoke(app, ["download", *args, "--source", "sample"]).exit_code == 0
    res = runner.invoke(app, ["cube", *args])
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "txson/2022/cube.json").read_text())
    assert meta["shape"] == [365, 36, 36] and meta["peak_memory_mb"] > 0


def test_help_lists_fill_first_and_every_stage():
    res = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert res.exit_code == 0
    listed = [
        line.split()[1]
        for line in res.output.splitlines()
        if line.startswith("│ ") and len(line.split()) > 2 and line.split()[1].isalpha()
    ]
    commands = [
        c
        for c in listed
        if c in {"fill", "status", "train", "download", "cube", "tile", "impute", "export"}
    ]
    assert commands == ["fill", "status", "train", "download", "cube", "tile", "impute", "export"]
