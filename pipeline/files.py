"""Atomic file writes: write beside the target, rename over it only when complete."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def part_of(path: Path) -> Path:
    """Where `path` is written until it is complete: `<name>.part` beside it."""
    return path.with_name(path.name + ".part")


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on failure it is removed,
    so `path` is always either the old complete file or the new complete one."""
    tmp = part_of(path)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def swap_dir(part: Path, out: Path) -> None:
    """Put the finished directory `part` where `out` was; the old one is removed only afterwards,
    so a crash at any point leaves a complete store at `out` or at `out.old`."""
    if out.exists():
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        part.rename(out)
        shutil.rmtree(old)
    else:
        part.rename(out)
