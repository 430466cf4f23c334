"""Checksums of a cube store's chunks, so damage is found by content: a chunk overwritten, cut
short or deleted is reported and its 32-day block rebuilt by the next run, instead of failing
every later read with a decompression traceback, passing bit flips into the fill as observed
values, or (a deleted chunk) reading as empty while the cube says it is current.

The sums sit in the store's own `chunks.sha256` (one `<sha256>  <key>` line per chunk file),
written into the half-built store before it replaces the old one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

SUMS = "chunks.sha256"
ALL = -1  # a damaged chunk of a field without time: every block is rebuilt


def _chunk_files(store: Path) -> list[Path]:
    return sorted(
        p for p in store.rglob("*") if p.is_file() and not p.name.startswith(".") and p.name != SUMS
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def write_sums(store: Path) -> None:
    lines = [f"{_sha256(p)}  {p.relative_to(store).as_posix()}" for p in _chunk_files(store)]
    (store / SUMS).write_text("\n".join(lines) + "\n")


def damaged_blocks(store: Path) -> tuple[set[int], list[str]]:
    """(the time-chunk indices, i.e. 32-day blocks, holding a chunk whose bytes are not what
    was written, with ALL for a field without time; the damaged keys). Empty for a store
    written before sums were kept (nothing to check against)."""
    sums = store / SUMS
    if not sums.is_file():
        return set(), []
    blocks: set[int] = set()
    bad: list[str] = []
    for line in sums.read_text().splitlines():
        digest, _, key = line.partition("  ")
        path = store / key
        if path.is_file() and _sha256(path) == digest:
            continue
        bad.append(key)
        blocks.add(_time_block(store, key))
    return blocks, bad


def _time_block(store: Path, key: str) -> int:
    """The time-chunk index of a chunk key like `soil_moisture/3.0.1`, or ALL."""
    var, _, index = key.rpartition("/")
    try:
        dims = json.loads((store / var / ".zattrs").read_text()).get("_ARRAY_DIMENSIONS", [])
    except (OSError, ValueError):
        return ALL
    if not dims or dims[0] != "time":
        return ALL
    return int(index.split(".")[0])
