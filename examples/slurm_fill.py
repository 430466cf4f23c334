"""Fill a region-year on a SLURM cluster: dask-jobqueue submits the dask workers as batch jobs,
then the pipeline's fill runs against their scheduler by address.

    pip install -e ".[hpc]"          # dask-jobqueue
    python examples/slurm_fill.py --region texas --year 2022 --jobs 4 --queue gpu --gpus 1

Each job is one worker process; with --gpus 1 it asks SLURM for a GPU (--gres=gpu:1) and tells
dask so (resources GPU=1), and the fill runs one tile at a time on it. The workers need this
package installed and the data folder (--data) on a shared file system. The same works with
PBSCluster, SGECluster or LSFCluster; with `dask cuda worker ADDRESS` started by hand instead,
pass that scheduler's address to `python -m pipeline fill --scheduler`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--region", required=True)
    ap.add_argument("--year", required=True)
    ap.add_argument("--data", default="data", help="data root on a file system the workers share")
    ap.add_argument("--jobs", type=int, default=2, help="batch jobs (one dask worker each)")
    ap.add_argument(
        "--cores", type=int, default=8, help="cores per job (torch threads of the worker)"
    )
    ap.add_argument("--memory", default="32GB", help="memory per job")
    ap.add_argument("--gpus", type=int, default=0, help="GPUs per job (0 or 1)")
    ap.add_argument("--queue", default=None, help="SLURM partition")
    ap.add_argument("--walltime", default="04:00:00")
    ap.add_argument("--wait", type=float, default=600, help="seconds to wait for the first worker")
    ap.add_argument(
        "pipeline_args", nargs="*", help="more `python -m pipeline fill` options (after --)"
    )
    a = ap.parse_args()

    from dask_jobqueue import SLURMCluster
    from distributed import Client

    gpu = a.gpus > 0
    cluster = SLURMCluster(
        cores=a.cores,
        processes=1,
        memory=a.memory,
        queue=a.queue,
        walltime=a.walltime,
        job_extra_directives=["--gres=gpu:1"] if gpu else [],
        worker_extra_args=["--resources", "GPU=1"] if gpu else [],
        job_script_prologue=[f"export OMP_NUM_THREADS={a.cores}"],
    )
    try:
        cluster.scale(jobs=a.jobs)
        with Client(cluster) as client:
            deadline = time.monotonic() + a.wait
            while not client.scheduler_info()["workers"]:
                if time.monotonic() > deadline:
                    print(
                        f"no worker joined within {a.wait:.0f} s: check squeue and the job logs",
                        file=sys.stderr,
                    )
                    return 2
                time.sleep(1)
        cmd = [sys.executable, "-m", "pipeline", "fill", "--region", a.region, "--year", a.year,
               "--data", a.data, "--scheduler", cluster.scheduler_address, *a.pipeline_args]  # fmt: skip
        if gpu:
            cmd += ["--device", "cuda"]
        return subprocess.call(cmd)
    finally:
        cluster.close()


if __name__ == "__main__":
    sys.exit(main())
