"""Run notebooks top to bottom (nbclient) so they cannot rot: python -m tests.notebooks NB..."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run(path: Path, timeout: int = 600) -> None:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        run(Path(arg))
        print(f"{arg}: ran top to bottom")
