"""Where tile tasks run: dask.distributed (a local cluster sized to the machine by default, or an
existing scheduler by address), or this process alone (workers = 0).

The tool never assumes it started the cluster: `--scheduler tcp://host:8786` (or
DASK_SCHEDULER_ADDRESS) connects to one started by `dask scheduler`, dask-jobqueue or
dask-gateway, and its workers need only this package installed and the data paths readable.
A local cluster gets one worker per GPU (`resources={"GPU": 1}`; dask-cuda's LocalCUDACluster
where installed) or, without CUDA, CPU workers whose torch threads add up to the cores.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pipeline.errors import ClusterError, PipelineError

log = logging.getLogger("pipeline")
ENV_SCHEDULER = "DASK_SCHEDULER_ADDRESS"


@dataclass(frozen=True)
class ClusterSettings:
    """How to run tile tasks.

    scheduler: address of an existing dask scheduler (tcp://host:8786); None starts a local one.
    workers: local workers (None: sized to the machine; 0: no dask, run in this process).
    connect_timeout_s: how long to wait for a scheduler to answer.
    """

    scheduler: str | None = None
    workers: int | None = None
    connect_timeout_s: float = 10.0


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def gpu_count(device: str) -> int:
    if device == "cpu":
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def local_plan(device: str, workers: int | None) -> tuple[int, int, int]:
    """(workers, torch threads per worker, GPUs) for a local cluster on this machine."""
    gpus = gpu_count(device)
    if gpus:
        n = workers or gpus
        return n, max(1, cores() // n), gpus
    n = workers or max(1, min(cores(), 4))
    return n, max(1, cores() // n), 0


class Runner:
    """Maps a task over items on the cluster (or in this process), yielding results as they
    finish. A task that fails on every try raises ClusterError naming its item."""

    def __init__(self, client: Any = None, *, threads: int = 0, gpu: bool = False) -> None:
        # threads: torch threads per worker that tasks set (0: leave the worker's own setting)
        self.client, self.threads, self.gpu = client, threads, gpu

    @property
    def workers(self) -> int:
        if self.client is None:
            return 0
        return len(self.client.scheduler_info().get("workers", {}))

    def map(
        self,
        fn: Callable[..., Any],
        items: Sequence[Any],
        *args: Any,
        what: str = "task",
        gpu: bool | None = None,
    ) -> Iterator[Any]:
        """fn(*args, item) for each item; `gpu` (default: the runner's) asks for a GPU slot."""
        if self.client is None:
            tune_allocator()
            for item in items:
                try:
                    result = fn(*args, item)
                except (PipelineError, KeyboardInterrupt):
                    raise
                except Exception as exc:
                    raise _failed(what, item, exc) from exc
                yield result
            return
        from distributed import as_completed

        futures = self.client.map(
            _task,
            [fn] * len(items),
            *[[a] * len(items) for a in args],
            items,
            pure=False,
            retries=1,
            resources={"GPU": 1} if (self.gpu if gpu is None else gpu) else None,
            key=[f"{what}-{_label(item)}" for item in items],
        )
        by_key = {f.key: item for f, item in zip(futures, items, strict=True)}
        for future in as_completed(futures):
            if future.status == "error":
                cause = future.exception()
                for f in futures:
                    f.cancel()
                raise _failed(what, by_key[future.key], cause) from cause
            yield future.result()

    def run_on_workers(self, fn: Callable[[], Any]) -> dict[str, Any]:
        """`fn()` on every worker (on this process when there is no cluster)."""
        if self.client is None:
            return {"local": fn()}
        return dict(self.client.run(fn))


def _task(fn: Callable[..., Any], *args: Any) -> Any:
    """A task as a worker runs it: the allocator set up for torch first (once per process)."""
    tune_allocator()
    return fn(*args)


@lru_cache(maxsize=1)
def tune_allocator() -> bool:
    """Let glibc's malloc keep large freed blocks for reuse; True when it could.

    Dask starts its workers with MALLOC_TRIM_THRESHOLD_ set, and glibc then fixes its mmap
    threshold at 128 KB: every temporary tensor above that is mapped afresh and its pages
    faulted in, and torch's CPU inference runs far slower than in a plain process (measured in
    benchmarks/README.md). The mmap threshold raised to glibc's own ceiling (32 MB) and the trim
    threshold to 128 MB undo that, in workers the tool started and in ones it did not. A no-op
    where the C library is not glibc."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 128 << 20))


def _failed(what: str, item: Any, exc: BaseException) -> PipelineError:
    """The one-line error of a unit that failed: a full disk says so; anything else names the
    unit and the cause. Finished units are kept either way."""
    if isinstance(exc, PipelineError):
        return exc
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return ClusterError(
            f"disk full while writing {what} {_label(item)} ({exc.filename or 'its output'}): free "
            "space or point DATA= at a larger disk, then run again; finished ones are kept"
        )
    return ClusterError(
        f"{what} {_label(item)} failed ({type(exc).__name__}: {exc}); finished ones are kept, "
        "run the same command to resume (--debug shows the traceback)"
    )


def _quiet() -> None:
    """distributed sets its own loggers to INFO when imported: keep its start/stop chatter out of
    the run's log unless --debug."""
    debug = logging.getLogger().getEffectiveLevel() <= logging.DEBUG  # the run's --debug
    logging.getLogger("distributed").setLevel(logging.INFO if debug else logging.WARNING)


def _label(item: Any) -> str:
    return str(item[0]) if isinstance(item, tuple) else str(item)


@contextmanager
def runner(settings: ClusterSettings, device: str) -> Iterator[Runner]:
    """A Runner for the fill: connected to `settings.scheduler` (or $DASK_SCHEDULER_ADDRESS), a
    local cluster, or none; closed (and a local cluster stopped) afterwards."""
    address = settings.scheduler or os.environ.get(ENV_SCHEDULER) or None
    if address is None and settings.workers == 0:
        yield Runner(None)
        return
    from distributed import Client

    _quiet()
    if address is not None:
        client = connect(address, settings.connect_timeout_s)
        try:
            yield Runner(client, threads=0, gpu=gpu_count(device) > 0 and _has_gpu(client))
        finally:
            client.close()
        return
    n, threads, gpus = local_plan(device, settings.workers)
    cluster = _local_cluster(n, threads, gpus)
    client = Client(cluster)
    log.info(
        "cluster: a local dask cluster of %d worker(s) x %d thread(s)%s (dashboard %s)",
        n, threads, f", {gpus} GPU(s)" if gpus else "", client.dashboard_link,
    )  # fmt: skip
    try:
        yield Runner(client, threads=threads, gpu=gpus > 0)
    finally:
        client.close()
        cluster.close()


def connect(address: str, timeout_s: float) -> Any:
    """A client of the scheduler at `address`, or a ClusterError saying what to do."""
    from distributed import Client

    _quiet()
    try:
        return Client(address, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"no dask scheduler answers at {address} ({type(exc).__name__}); start one "
            "(dask scheduler / dask-jobqueue / dask-gateway) or fix --scheduler "
            f"(or ${ENV_SCHEDULER}); leave both unset to use a local cluster"
        ) from None


def _has_gpu(client: Any) -> bool:
    workers = client.scheduler_info().get("workers", {}).values()
    return any("GPU" in (w.get("resources") or {}) for w in workers)


def _local_cluster(n: int, threads: int, gpus: int) -> Any:
    import dask
    from distributed import LocalCluster

    from pipeline.worker_start import start_method

    method = start_method(threads)  # forked from the process that imported their modules
    common = {"dashboard_address": ":0", "silence_logs": logging.ERROR}
    with dask.config.set({"distributed.worker.multiprocessing-method": method} if method else {}):
        if gpus:
            try:
                from dask_cuda import LocalCUDACluster

                return LocalCUDACluster(n_workers=n, resources={"GPU": 1}, **common)
            except ImportError:
                pass
            return LocalCluster(
                n_workers=n, threads_per_worker=1, resources={"GPU": 1}, processes=True, **common
            )
        return LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            env={"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)},
            **common,
        )
