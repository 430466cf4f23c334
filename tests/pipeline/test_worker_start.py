"""A local cluster's workers fork from a process that imported their tasks' modules while the run
was starting (`pipeline.worker_start`), so the first tasks do not wait on imports."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cluster import ENV_SCHEDULER
from pipeline.worker_start import starts_local_fill, workers_option

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["fill", "--region", "texas", "--year", "2022"], {}, True),
        (["impute", "--region", "texas", "--year", "2022", "--workers", "2"], {}, True),
        (["fill", "--region", "texas", "--year", "2022", "--workers", "0"], {}, False),
        (["fill", "--region", "texas", "--year", "2022", "--workers=0"], {}, False),
        (["fill", "--region", "texas", "--scheduler", "tcp://h:8786"], {}, False),
        (["fill", "--region", "texas", "--scheduler=tcp://h:8786"], {}, False),
        (["fill", "--region", "texas"], {ENV_SCHEDULER: "tcp://h:8786"}, False),
        (["fill", "--help"], {}, False),
        (["export", "--region", "texas", "--year", "2022"], {}, False),
        (["status", "--region", "texas", "--year", "2022"], {}, False),
        ([], {}, False),
    ],
)
def test_a_fill_on_a_local_cluster_is_foreseen_from_its_command_line(argv, environ, expected):
    assert starts_local_fill(argv, environ, ENV_SCHEDULER) is expected


PROBE = """
import json, os, sys
from pipeline import cluster
from pipeline.worker_start import start_forkserver

threads = cluster.local_plan("cpu", 2)[1]
assert start_forkserver(threads)

def probe():
    from threadpoolctl import threadpool_info

    pools = sorted({(p["internal_api"], p["num_threads"]) for p in threadpool_info()})
    return ["torch" in sys.modules, os.getppid(), pools]

with cluster.runner(cluster.ClusterSettings(workers=2), "cpu") as run:
    seen = run.run_on_workers(probe)
print(json.dumps({"driver": os.getpid(), "driver_torch": "torch" in sys.modules,
                  "threads": threads, "workers": list(seen.values())}))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no forkserver on Windows")
def test_local_workers_fork_from_a_process_that_imported_torch_with_their_threads():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert not seen["driver_torch"]  # the driver itself never imported it
    assert len(seen["workers"]) == 2
    for torch_before_any_task, parent, pools in seen["workers"]:
        assert torch_before_any_task  # imported by the process it was forked from
        assert parent != seen["driver"]  # that process, not the driver, is its parent
        # OpenMP and BLAS sized their pools for a worker's share of the cores when they loaded
        # (in the forkserver), not for the whole machine
        assert {api for api, _ in pools} >= {"openmp"}, pools
        assert all(n == seen["threads"] for _, n in pools), pools


def test_the_workers_a_command_line_asks_for():
    assert workers_option(["fill", "--workers", "3"]) == 3
    assert workers_option(["fill", "--workers=3"]) == 3
    assert workers_option(["fill", "--region", "texas"]) is None
    assert workers_option(["fill", "--workers"]) is None
