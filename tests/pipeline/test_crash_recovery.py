"""Crash safety: the sample chain killed with SIGKILL at a few moments spread over its run, then
rerun, ends with exactly what an uninterrupted run leaves (`benchmarks/crash.py`, whose
`make bench-crash` runs 50 kills)."""

import shutil

import numpy as np
import rasterio

from tests.benchmark_scripts import load

crash = load("crash")


def test_killed_runs_recover_to_the_uninterrupted_output(archive, tmp_path):
    said: list[str] = []
    result = crash.harness(tmp_path, kills=3, archive=archive, progress=said.append)
    assert result["recovered"] == 3, said
    assert {k["stage"] for k in result["kills"]} - {"finished"}, said  # some kill hit a run


def test_the_comparison_sees_a_changed_pixel_and_a_leftover(tmp_path):
    ref = tmp_path / "ref"
    cog = ref / "export" / "cog" / "txson_2022-01-01.tif"
    cog.parent.mkdir(parents=True)
    profile = {"driver": "GTiff", "width": 4, "height": 4, "count": 1, "dtype": "float32"}
    with rasterio.open(cog, "w", **profile) as dst:
        dst.write(np.zeros((1, 4, 4), np.float32))
    got = tmp_path / "got"
    shutil.copytree(ref, got)
    assert crash.differences(ref, got) == [] and crash.leftovers(got) == []
    with rasterio.open(got / cog.relative_to(ref), "r+") as dst:
        dst.write(np.ones((1, 4, 4), np.float32))
    (got / "filled.zarr.part").mkdir()
    assert crash.differences(ref, got) == ["cog/txson_2022-01-01.tif: pixels differ"]
    assert crash.leftovers(got) == ["filled.zarr.part"]
