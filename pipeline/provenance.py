"""What every output records about how it was made: the code version and the products used."""

from __future__ import annotations

import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


@cache
def code_version() -> str:
    """`git describe` of the checkout when there is one (with -dirty for local changes), else
    the installed package version."""
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=root, capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
        return f"git:{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        try:
            return f"stimpute-pipeline {version('stimpute')}"
        except PackageNotFoundError:
            return "unknown"


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB: each stage records it (run alone, a
    stage's own peak; in `fill`, the peak of the stages so far).

    On Linux it is the address space's high-water mark (VmHWM), which starts afresh when a
    process executes a program; getrusage's ru_maxrss survives exec, so a dask worker started
    from a driver holding 3 GB would report the driver's 3 GB as its own peak."""
    import resource

    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:  # not Linux
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def give_back_memory() -> None:
    """Hand the heap's freed pages back to the system (glibc's malloc_trim), between the blocks
    of a long loop of large temporaries: without it, the freed memory of each block stays in the
    process, scattered, and the resident size climbs block after block. A no-op off glibc."""
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)
