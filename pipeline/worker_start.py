"""How a local cluster's workers start: forked from a process that imported their tasks' modules
while this one was still starting.

Each worker of a local cluster used to be a fresh interpreter (multiprocessing's spawn), which
imported torch, the model and the pipeline (seconds of one core) when its first task arrived;
both workers did so at once, after the cluster started, while the run waited. Here, when the
command line says the run will start a local cluster for the fill (`starts_local_fill`), one
process is started first thing (multiprocessing's forkserver) and imports those modules
(`WORKER_IMPORTS`) on the other core while this process imports its own and runs the early
stages; the cluster's workers are then forked from it, ready.

A forkserver is a fresh interpreter that has touched no GPU and started no thread pool, so the
forks are safe (the way PyTorch's own data loaders start workers). A worker forked from it has
the environment this process had when it started (the nanny adds the worker's own variables);
tasks read no environment variable. OpenMP and the BLAS libraries size their thread pools from
the environment when they load, which is in the forkserver: it starts with the workers' thread
count in `THREAD_VARIABLES` (else each worker's numpy and torch would run as many threads as the
machine has cores, and the workers would fight over them), and a cluster whose workers get
another count is spawned as before.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping, Sequence

# what a fill's tasks import (the prior, the model on a tile, the blend): imported once, ahead
WORKER_IMPORTS = ("distributed", "torch", "stimpute", "pipeline.fill_prior", "pipeline.fill_tasks")
# the commands whose tasks are the fill's; `export` alone would wait on imports it does not need
FILL_COMMANDS = ("fill", "impute")
METHOD = "forkserver"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

_threads = 0  # threads per worker the running forkserver was started for (0: none started)


def starts_local_fill(argv: Sequence[str], environ: Mapping[str, str], scheduler_env: str) -> bool:
    """Whether `python -m pipeline <argv>` will run fill tasks on a local cluster: a fill command,
    no scheduler (`--scheduler` or `scheduler_env`), workers not 0, not a request for help.
    A guess from the command line before it is parsed: a wrong one costs a core for a few
    seconds, nothing else."""
    if not argv or argv[0] not in FILL_COMMANDS or environ.get(scheduler_env):
        return False
    if any(arg.partition("=")[0] in ("--help", "--scheduler") for arg in argv):
        return False
    return workers_option(argv) != 0


def workers_option(argv: Sequence[str]) -> int | None:
    """The `--workers` a command line gives (None when it gives none, or not a number)."""
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if name == "--workers":
            text = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            return int(text) if text.isdigit() else None
    return None


def start_forkserver(threads: int) -> bool:
    """Start the process local workers are forked from, importing `WORKER_IMPORTS` with
    `threads` threads per worker in its environment; True when it runs (False where the
    platform has no forkserver: workers are then spawned as before)."""
    global _threads
    if _threads:
        return _threads == threads
    if METHOD not in multiprocessing.get_all_start_methods():
        return False
    from multiprocessing import forkserver

    multiprocessing.get_context(METHOD).set_forkserver_preload(list(WORKER_IMPORTS))
    own = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:  # the forkserver starts with the workers' thread count; this process keeps its own
        forkserver.ensure_running()
    except OSError:  # no process to spare: the workers are spawned as before
        return False
    finally:
        for name, value in own.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    _threads = threads
    return True


def start_method(threads: int) -> str | None:
    """The start method for a local cluster whose workers run `threads` threads each: the
    forkserver when this run started it for that many, else None (dask's own setting, spawn)."""
    return METHOD if _threads and _threads == threads else None
