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
tasks read no environment variable.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping, Sequence

# what a fill's tasks import (the prior, the model on a tile, the blend): imported once, ahead
WORKER_IMPORTS = ("distributed", "torch", "stimpute", "pipeline.fill_prior", "pipeline.fill_tasks")
# the commands whose tasks are the fill's; `export` alone would wait on imports it does not need
FILL_COMMANDS = ("fill", "impute")
METHOD = "forkserver"

_started = False


def starts_local_fill(argv: Sequence[str], environ: Mapping[str, str], scheduler_env: str) -> bool:
    """Whether `python -m pipeline <argv>` will run fill tasks on a local cluster: a fill command,
    no scheduler (`--scheduler` or `scheduler_env`), workers not 0, not a request for help.
    A guess from the command line before it is parsed: a wrong one costs a core for a few
    seconds, nothing else."""
    if not argv or argv[0] not in FILL_COMMANDS or environ.get(scheduler_env):
        return False
    for i, arg in enumerate(argv):
        name, _, value = arg.partition("=")
        if name in ("--help", "--scheduler"):
            return False
        if name == "--workers" and (value or (argv[i + 1] if i + 1 < len(argv) else "")) == "0":
            return False
    return True


def start_forkserver() -> bool:
    """Start the process local workers are forked from, importing `WORKER_IMPORTS`; True when it
    runs (False where the platform has no forkserver: workers are then spawned as before)."""
    global _started
    if _started:
        return True
    if METHOD not in multiprocessing.get_all_start_methods():
        return False
    from multiprocessing import forkserver

    multiprocessing.get_context(METHOD).set_forkserver_preload(list(WORKER_IMPORTS))
    try:
        forkserver.ensure_running()
    except OSError:  # no process to spare: the workers are spawned as before
        return False
    _started = True
    return True


def start_method() -> str | None:
    """The start method for a local cluster's workers: the forkserver when this run started it
    (its imports done or under way), else None (dask's own setting, spawn)."""
    return METHOD if _started else None
