"""Zarr stores a night's run works on: growing one along time in place, and a working copy of
one that costs no copying.

The year in progress adds days to the cube and to the filled product night after night, and
rebuilding a state's year for one new day would cost the whole year. Arrays whose first
dimension is `time` are resized (new steps read as their fill value until written) and the time
coordinate is extended day by day. A refill works on a copy of the published product and swaps
it in when complete; the copy's files are hard links, so a state's product is not copied byte
by byte each night."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np


def time_length(store: Path) -> int:
    """Steps of the store's `time` coordinate."""
    meta = json.loads((store / "time" / ".zarray").read_text())
    return int(meta["shape"][0])


def grow_time(store: Path, days: int) -> None:
    """Resize every time-first array of `store` to `days` steps and extend its daily time
    coordinate, then consolidate the metadata; nothing to do when it has `days` already."""
    import zarr

    old = time_length(store)
    if days < old:
        raise ValueError(f"grow_time: {store} has {old} steps; it cannot shrink to {days}")
    if days == old:
        return
    group = zarr.open_group(str(store), mode="r+", use_consolidated=False)
    for name in list(group.array_keys()):
        array: Any = group[name]
        dims: Any = array.attrs.get("_ARRAY_DIMENSIONS") or [None]
        if dims[0] == "time":
            array.resize((days, *array.shape[1:]))
    times: Any = group["time"]  # days since 1970-01-01, one a step
    start = int(times[0])
    times[old:days] = np.arange(start + old, start + days, dtype=np.int32)
    zarr.consolidate_metadata(str(store))


def link_copy(src: Path, dst: Path) -> None:
    """A copy of the store `src` at `dst` whose files are hard links to those of `src` (copies
    where the file system has none). Safe because zarr writes every file of a store beside it
    and renames it into place: a write into the copy makes a new file there and never reaches
    `src` (a test holds zarr to it)."""

    def link(source: str, target: str) -> None:
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)

    shutil.copytree(src, dst, copy_function=link)
