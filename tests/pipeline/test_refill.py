"""A nightly run after a reissued scene: the cube rebuilds the scene's block, the fill runs only
the time windows of its days (the model reused, not retrained) and rewrites only the days those
windows alone cover, and the export rewrites only COGs whose content changed. Run on a copy of
the shared txson run; the reissue carries the same values, so every rewritten day must come out
as the full fill made it."""

import json
import shutil

import numpy as np
import xarray as xr

from pipeline.__main__ import app
from tests.pipeline.txson_run import runner

ARGS = ["--region", "txson", "--year", "2022"]


def test_a_reissued_scene_refills_its_windows_only_and_matches_the_full_fill(run_dir, tmp_path):
    data = tmp_path / "data"  # the whole data root: the last fill may have used a region model
    folder = data / "txson" / "2022"
    shutil.copytree(run_dir.parents[1], data, symlinks=True)
    export = ["export", *ARGS, "--data", str(data), "--workers", "0"]
    assert runner.invoke(app, export).exit_code == 0  # the export of the last fill, up to date
    before = json.loads((folder / "fill.json").read_text())
    manifest_path = folder / "raw" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    name, rec = next(
        (k, v)
        for k, v in sorted(manifest["granules"].items())
        if v["product"] == "SPL2SMAP_S" and v["day"] >= "2022-06-15"
    )
    manifest["granules"][name] = {**rec, "checksum": "reissued"}  # a new revision of the scene
    manifest_path.write_text(json.dumps(manifest))
    cube = runner.invoke(app, ["cube", *ARGS, "--data", str(data)])
    assert cube.exit_code == 0, cube.output
    fill = runner.invoke(
        app,
        ["impute", *ARGS, "--data", str(data), "--budget", "4", "--baselines", "mean,linear"],
    )
    assert fill.exit_code == 0, fill.output
    assert "inputs changed since the last fill (1 cube block(s))" in fill.output, fill.output
    after = json.loads((folder / "fill.json").read_text())
    assert after["model"]["sha256"] == before["model"]["sha256"]  # reused, not retrained
    refill = after["refill"]
    assert refill["cube_blocks_changed"] == 1
    assert refill["days_new"] == 0 and 0 < refill["days_changed"] <= refill["days_rewritten"] < 365
    assert after["metrics"] == before["metrics"]  # the held-out table is the full fill's
    with (
        xr.open_zarr(run_dir / "filled.zarr") as full,
        xr.open_zarr(folder / "filled.zarr") as part,
    ):
        for v in ("soil_moisture", "soil_moisture_uncertainty", "flag"):
            np.testing.assert_allclose(part[v].values, full[v].values, atol=1e-6)
    assert after["values"] == before["values"]
    # the truth score: the rewritten days scored again (the twin walked from 1 January to
    # reach them), the other days' sums kept from the full fill, the same figure
    assert f"({refill['days_rewritten']} day(s) scored" in fill.output, fill.output
    assert after["truth"]["values"] == before["truth"]["values"]
    for k in ("mae", "rmse", "bias"):
        assert abs(after["truth"][k] - before["truth"][k]) <= 2e-5, (
            after["truth"],
            before["truth"],
        )
    res = runner.invoke(app, export)
    assert res.exit_code == 0, res.output
    assert json.loads((folder / "export" / "export.json").read_text())["cogs_written"] == 0
