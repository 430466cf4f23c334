"""examples/slurm_fill.py end to end: dask-jobqueue submits worker jobs to stand-in `sbatch` and
`scancel` commands that run each job script here, so real dask workers join and fill txson."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("dask_jobqueue")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "slurm_fill.py"

SBATCH = """#!/bin/bash
# stand-in for SLURM's sbatch: keep a copy of the job script (as sbatch does: the caller deletes
# its file), run it in its own session, print the job id
job=$(mktemp "${TMPDIR:-/tmp}/job-XXXXXX")
cp "$1" "$job"
setsid bash "$job" > "$job.log" 2>&1 < /dev/null &
echo "Submitted batch job $!"
"""
SCANCEL = """#!/bin/bash
for job in "$@"; do kill -TERM -- "-$job" 2>/dev/null; done
exit 0
"""


def test_the_slurm_example_fills_a_region_on_workers_it_submitted(archive, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (
        ("sbatch", SBATCH),
        ("scancel", SCANCEL),
        ("squeue", "#!/bin/bash\nexit 0\n"),
    ):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    data = tmp_path / "data"
    data.mkdir()
    (data / "sample-archive").symlink_to(archive)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "STIMPUTE_SOURCE": "sample",
        "TMPDIR": str(tmp_path),
    }
    args = ["--region", "txson", "--year", "2022", "--data", str(data), "--jobs", "2", "--cores", "1",
            "--memory", "2GB", "--wait", "120", "--", "--size", "16", "--budget", "3", "--baselines", "mean"]  # fmt: skip
    res = subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    record = json.loads((data / "txson" / "2022" / "fill.json").read_text())
    assert record["workers"] >= 1  # the jobs' workers did the tiles (the second may join late)
    assert (data / "txson" / "2022" / "export" / "txson_2022.nc").exists()
