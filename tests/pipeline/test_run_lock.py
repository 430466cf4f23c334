"""One run at a time per region-year: a second run stops with exit 75 naming the first, or waits
with --wait; a lock left by a killed run never blocks; SIGTERM is a clean stop (exit 143)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from pipeline.__main__ import app
from pipeline.run_lock import lock_path

runner = CliRunner()
HOLD = """
import sys, time
from pathlib import Path
from pipeline.run_lock import one_run
with one_run(Path(sys.argv[1]), "txson", "2022"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder(data: Path, seconds: float) -> subprocess.Popen:
    """Another process holding txson 2022, as a second `make fill` would."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(data), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _tile(data: Path, *extra: str):
    args = ["tile", "--region", "txson", "--year", "2022", "--data", str(data), *extra]
    return runner.invoke(app, args)


def test_a_second_run_stops_at_once_naming_the_first(tmp_path):
    holder = _holder(tmp_path, 60)
    try:
        start = time.perf_counter()
        res = _tile(tmp_path)
        assert res.exit_code == 75, res.output
        assert f"PID {holder.pid}" in res.output and "--wait" in res.output
        assert "Traceback" not in res.output and time.perf_counter() - start < 10
        assert not (tmp_path / "txson" / "2022").exists()  # nothing was written
    finally:
        holder.kill()
        holder.wait()


def test_wait_queues_behind_the_running_one(tmp_path):
    holder = _holder(tmp_path, 2)
    start = time.perf_counter()
    res = _tile(tmp_path, "--wait")  # then fails on its own terms: there is no cube yet
    assert time.perf_counter() - start >= 1 and holder.wait() == 0
    assert res.exit_code == 2 and "cube" in res.output, res.output


def test_a_lock_left_by_a_killed_run_does_not_block(tmp_path):
    holder = _holder(tmp_path, 60)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert lock_path(tmp_path, "txson", "2022").exists()  # the file stays; the OS lock is gone
    res = _tile(tmp_path)
    assert res.exit_code == 2 and "cube" in res.output, res.output


def test_sigterm_stops_cleanly_with_exit_143(tmp_path, archive):
    (tmp_path / "sample-archive").symlink_to(archive)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "fill", "--region", "txson", "--year", "2022",
         "--source", "sample", "--data", str(tmp_path), "--workers", "0", "--budget", "60",
         "--size", "16", "--overlap", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    folder = tmp_path / "txson" / "2022"
    for _ in range(1200):  # stop it while it trains, well after download and cube
        if (folder / "tiles.parquet").exists():
            break
        time.sleep(0.1)
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, out
    assert "stopped (SIGTERM)" in out and "Traceback" not in out
    assert not list(tmp_path.rglob("*.part"))
    assert not (folder / "filled.zarr").exists()
    assert not lock_path(tmp_path, "txson", "2022").with_suffix(".lock.json").exists()


def test_leftovers_of_a_crash_are_put_right_when_the_next_run_starts(tmp_path):
    from pipeline.run_lock import one_run

    year = tmp_path / "txson" / "2022"
    for d in ("export/cog", "fill.parts", "filled.zarr", "filled.zarr.old", "cube.zarr.old",
              "filled.zarr.part"):  # fmt: skip
        (year / d).mkdir(parents=True)
    (year / "export/cog/txson_2022-01-01.tif.part").write_bytes(b"half")
    (year / "fill.parts/tile-3.part.npz").write_bytes(b"half")
    (year / "cube.zarr.old/.zgroup").write_text("{}")
    (year / "filled.zarr.part/.zgroup").write_text("{}")
    for store in ("filled.zarr.part", "prior.zarr"):  # zarr writes a chunk beside it, then renames
        (year / store / "sm").mkdir(parents=True)
        (year / store / "sm/0.0").write_bytes(b"whole")
        (year / store / "sm/1.0.5f3a9c.partial").write_bytes(b"half")
    with one_run(tmp_path, "txson", "2022"):
        pass
    assert not [p for p in year.rglob("*.part*") if p.is_file()]
    assert not (year / "filled.zarr.old").exists() and (year / "filled.zarr").exists()
    assert (year / "cube.zarr/.zgroup").exists() and not (year / "cube.zarr.old").exists()
    assert (year / "filled.zarr.part/.zgroup").exists()  # a half-built store resumes
    assert (year / "filled.zarr.part/sm/0.0").exists() and (year / "prior.zarr/sm/0.0").exists()
