"""The txson sample chain the end-to-end tests share: one `fill` run, made once per session
(the `run_dir` fixture in conftest), and the commands the tests run against it."""

import json
from pathlib import Path

from typer.testing import CliRunner

from pipeline.__main__ import app

runner = CliRunner()


def fill_txson(data: Path, *extra: str):
    """`python -m pipeline fill` on txson 2022 with the sample, in 16-pixel tiles and a short budget."""
    args = ["fill", "--region", "txson", "--year", "2022", "--source", "sample", "--data", str(data),
            "--size", "16", "--overlap", "4", "--budget", "4", "--baselines", "mean,linear", *extra]  # fmt: skip
    return runner.invoke(app, args)


def status_of(data: Path) -> dict:
    res = runner.invoke(
        app, ["status", "--region", "txson", "--year", "2022", "--data", str(data), "--json"]
    )
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def export_txson(data: Path):
    """`python -m pipeline export` on txson 2022, in this process."""
    return runner.invoke(
        app,
        ["export", "--region", "txson", "--year", "2022", "--data", str(data), "--workers", "0"],
    )
