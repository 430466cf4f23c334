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
    stage's own peak; in `fill`, the peak of the stages so far)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
