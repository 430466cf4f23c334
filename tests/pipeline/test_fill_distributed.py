"""The fill on dask.distributed: a real scheduler and workers on loopback give the in-process
output; a worker killed mid-fill is replaced by retries; a fill killed half-way resumes with only
the missing tiles; an address nobody answers is one line."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from pipeline.catalog import load_products, region
from pipeline.cluster import ClusterSettings, connect, runner
from pipeline.cube import build
from pipeline.errors import ClusterError
from pipeline.fill import Settings
from pipeline.fill import run as fill_run
from pipeline.tile import run as tile_run

SETTINGS = Settings(train_budget_s=3, train_area=36, baselines=("mean",), score_tiles=2)
OUTPUTS = ("soil_moisture", "soil_moisture_uncertainty", "flag")


@pytest.fixture(scope="module")
def year_dir(archive, tmp_path_factory) -> Path:
    """txson 2022 cubed and cut into 16-pixel tiles (9 tiles), with a model trained once."""
    from pipeline.download import run as download

    root = tmp_path_factory.mktemp("dist")
    folder = root / "txson" / "2022"
    from pipeline.sources.sample import SampleSource

    products = load_products()
    wanted = ("SPL2SMAP_S", "SPL3SMP_E", "daymet", "elevation", "land_cover", "soil_texture")
    download(
        region("txson"),
        2022,
        [products[p] for p in wanted],
        source=SampleSource(archive),
        raw=folder / "raw",
    )
    build(region("txson"), 2022, products, raw=folder / "raw", out=folder / "cube.zarr")
    tile_run(folder, region("txson").grid, size=16, overlap=4)
    fill_run(folder, "txson", 2022, root, SETTINGS)  # in process: the reference, and the model
    shutil.copytree(folder / "filled.zarr", root / "reference.zarr")
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    """`dask scheduler` and two `dask worker` processes on loopback, as an HPC user starts them."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]  # fmt: skip
    for i in range(2):
        procs.append(subprocess.Popen([str(bin_dir / "dask"), "worker", address, "--nthreads", "1",
                                       "--name", f"w{i}", "--no-dashboard", "--local-directory", str(tmp_path / f"w{i}")],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
    client = None
    for _ in range(120):
        try:
            client = connect(address, 2)
            if len(client.scheduler_info()["workers"]) == 2:
                break
            client.close()
        except ClusterError:
            pass
        time.sleep(0.5)
    else:
        pytest.fail("the scheduler and two workers did not come up within a minute")
    client.close()
    yield address, procs
    for p in procs:
        p.kill()
        p.wait()


def _fresh(folder: Path) -> None:
    for name in ("filled.zarr", "fill.json", "fill.parts", "filled.zarr.part"):
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _assert_same(folder: Path) -> None:
    a = xr.open_zarr(folder.parents[1] / "reference.zarr")
    b = xr.open_zarr(folder / "filled.zarr")
    for name in OUTPUTS:
        x, y = a[name].values.astype(np.float64), b[name].values.astype(np.float64)
        np.testing.assert_allclose(y, x, atol=1e-6, equal_nan=True, err_msg=name)


def test_fill_on_a_running_scheduler_equals_the_in_process_run(year_dir, cluster):
    address, _ = cluster
    _fresh(year_dir)
    with runner(ClusterSettings(scheduler=address), "cpu") as run:
        rec = fill_run(year_dir, "txson", 2022, year_dir.parents[1], SETTINGS, run)
    assert rec["workers"] == 2 and rec["tiles_computed"] == rec["tiles"] == 9
    _assert_same(year_dir)


def test_a_worker_killed_mid_fill_is_retried_elsewhere(year_dir, cluster):
    address, procs = cluster
    _fresh(year_dir)
    with runner(ClusterSettings(scheduler=address), "cpu") as run:
        import threading

        def kill_when_busy() -> None:
            parts = year_dir / "fill.parts"
            for _ in range(600):
                if len(list(parts.glob("tile-*.npz"))) >= 2:
                    break
                time.sleep(0.05)
            procs[1].send_signal(signal.SIGKILL)

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        fill_run(year_dir, "txson", 2022, year_dir.parents[1], SETTINGS, run)
        killer.join()
    assert procs[1].poll() is not None  # the worker really died
    _assert_same(year_dir)


def test_a_fill_killed_half_way_resumes_with_only_the_missing_tiles(year_dir, monkeypatch):
    from pipeline import fill as fill_stage

    _fresh(year_dir)
    done = []
    real = fill_stage.predict_tile

    def stop_after_four(job, unit):  # what a kill after four tiles leaves behind
        if len(done) == 4:
            raise KeyboardInterrupt
        done.append(unit[0])
        return real(job, unit)

    monkeypatch.setattr(fill_stage, "predict_tile", stop_after_four)
    with pytest.raises(KeyboardInterrupt):
        fill_run(year_dir, "txson", 2022, year_dir.parents[1], SETTINGS)
    monkeypatch.setattr(fill_stage, "predict_tile", real)
    assert not (year_dir / "filled.zarr").exists()
    job_parts = sorted((year_dir / "fill.parts").glob("tile-*.npz"))
    assert len(job_parts) == 4
    rec = fill_run(year_dir, "txson", 2022, year_dir.parents[1], SETTINGS)
    assert rec["tiles_computed"] == 5
    assert not (year_dir / "fill.parts").exists()
    _assert_same(year_dir)


def test_a_scheduler_that_does_not_answer_is_one_line(tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    settings = ClusterSettings(scheduler=address, connect_timeout_s=1)
    with (
        pytest.raises(ClusterError, match=f"no dask scheduler answers at {address}.*--scheduler"),
        runner(settings, "cpu"),
    ):
        pass


def test_a_tile_that_fails_is_named_and_the_finished_ones_are_kept(year_dir, monkeypatch):
    import errno

    from pipeline import fill as fill_stage

    _fresh(year_dir)
    real = fill_stage.predict_tile

    def tile_3_breaks(job, unit):
        if unit[0] == 3:
            raise RuntimeError("a bad day for tile 3")
        return real(job, unit)

    monkeypatch.setattr(fill_stage, "predict_tile", tile_3_breaks)
    with pytest.raises(ClusterError, match="tile 3 failed .*a bad day.*run the same command"):
        fill_run(year_dir, "txson", 2022, year_dir.parents[1], SETTINGS)
    assert len(list((year_dir / "fill.parts").glob("tile-*.npz"))) == 3  # tiles 0-2 are kept

    def disk_full(job, unit):
        raise OSError(errno.ENOSPC, "No space left on device", "fill.parts/tile-00003.npz")

    monkeypatch.setattr(fill_stage, "predict_tile", disk_full)
    with pytest.raises(ClusterError, match="disk full while writing tile 0 .*larger disk"):
        fill_run(year_dir, "txson", 2022, year_dir.parents[1], SETTINGS)
    assert not (year_dir / "filled.zarr").exists()


def test_export_on_the_cluster_equals_the_in_process_export(year_dir, cluster, monkeypatch):
    """The NetCDF and the COGs written by tasks on two workers (in 5-day spans, as a large
    region's memory bound would cut them) hold the values the in-process export writes."""
    import rasterio

    from pipeline import export

    address, _ = cluster
    _fresh(year_dir)
    fill_run(year_dir, "txson", 2022, year_dir.parents[1], SETTINGS)
    shutil.rmtree(year_dir / "export", ignore_errors=True)
    bbox = list(region("txson").grid.lonlat_bbox())
    export.run(year_dir, "txson", 2022, lonlat_bbox=bbox)
    reference = year_dir.parents[1] / "reference-export"
    shutil.rmtree(reference, ignore_errors=True)
    (year_dir / "export").rename(reference)
    monkeypatch.setattr(export, "SPAN_BYTES", 36 * 36 * 9 * 5)
    with runner(ClusterSettings(scheduler=address), "cpu") as run:
        rec = export.run(year_dir, "txson", 2022, lonlat_bbox=bbox, runner=run)
    # the NetCDF, then 11 chunks of 32 days in 7 spans each and the last 13 days in 3
    assert rec["workers"] == 2 and rec["tasks"] == 1 + 11 * 7 + 3
    assert (
        rec["written"] == 1 + 2 * 365 + 3
    )  # NetCDF, COGs and styles, the QGIS project and its two vector layers
    a = xr.open_dataset(reference / "txson_2022.nc")
    b = xr.open_dataset(year_dir / "export" / "txson_2022.nc")
    for name in OUTPUTS:
        np.testing.assert_array_equal(b[name].values, a[name].values, err_msg=name)
    for tif in sorted((reference / "cog").glob("*.tif")):
        with rasterio.open(tif) as x, rasterio.open(year_dir / "export" / "cog" / tif.name) as y:
            np.testing.assert_array_equal(y.read(), x.read(), err_msg=tif.name)
    assert (year_dir / "export" / "stac" / "catalog.json").exists()
