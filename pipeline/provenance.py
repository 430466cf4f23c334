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
