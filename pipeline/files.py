"""Atomic file writes: write beside the target, rename over it only when complete."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def read_record(path: Path) -> dict[str, Any]:
    """A stage's JSON record, or {} when it is missing, unreadable or not an object."""
    try:
        out = json.loads(path.read_text())
        return out if isinstance(out, dict) else {}
    except (OSError, ValueError):
        return {}


def part_of(path: Path) -> Path:
    """Where `path` is written until it is complete: `<name>.part` beside it."""
    return path.with_name(path.name + ".part")


@contextmanager
def replacing(path: Path, *, keep_same: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on failure it is removed,
    so `path` is always either the old complete file or the new complete one. With `keep_same`
    (small files), new bytes equal to the old leave the old file untouched, its time included,
    so a sync by time or by checksum sees no change."""
    tmp = part_of(path)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if keep_same and path.is_file() and filecmp.cmp(tmp, path, shallow=False):
        tmp.unlink()
    else:
        os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, leaving the file untouched if it holds exactly that."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, keep_same=True) as tmp:
        tmp.write_text(text)


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


def clean_leftovers(folder: Path) -> list[str]:
    """What a crash can leave in `folder` (a region-year), put right before a run starts; call
    it only while holding the run lock. Half-written files (`*.part`, `*.part.npz`) are removed.
    A `<store>.old` beside its store is removed; one without its store (a crash between the two
    renames of swap_dir) is put back. Half-built stores (`<store>.part/`) are kept: their stages
    resume from them, less the half-written chunks (`*.partial`) zarr leaves when killed mid-write.
    Returns what was done, for the log."""
    done: list[str] = []
    for top, dirs, files in os.walk(folder):
        here = Path(top)
        if here.name.endswith((".zarr", ".zarr.part")):
            halves = _remove_half_written_chunks(here)
            if halves:
                done.append(f"removed {halves} half-written chunk(s) in {here.relative_to(folder)}")
            dirs[:] = []
            continue
        for name in files:
            if name.endswith((".part", ".part.npz")):
                (here / name).unlink(missing_ok=True)
                done.append(f"removed {(here / name).relative_to(folder)}")
        for name in [d for d in dirs if d.endswith(".old")]:
            old, store = here / name, here / name[: -len(".old")]
            if store.exists():
                shutil.rmtree(old)
                done.append(f"removed {old.relative_to(folder)}")
            else:
                old.rename(store)
                done.append(f"restored {store.relative_to(folder)}")
        dirs[:] = [d for d in dirs if not d.endswith(".old")]
    return done


def _remove_half_written_chunks(store: Path) -> int:
    """Remove the temporary files zarr writes each chunk to before renaming it into place. Only
    names are listed and nothing is opened, so this stays cheap on a state's store."""
    removed = 0
    for top, _dirs, files in os.walk(store):
        for name in files:
            if name.endswith(".partial"):
                Path(top, name).unlink(missing_ok=True)
                removed += 1
    return removed
