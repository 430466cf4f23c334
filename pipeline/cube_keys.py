"""The fingerprints of a cube (stage `cube`): a key per 32-day block and per day, from the
granules, the grid, the boundary and the settings it was built from. A re-run rebuilds only the
blocks whose key changed; a fill compares the day keys to refill only the days that changed;
`status` compares them to say what is stale."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipeline.catalog import Region
from pipeline.year import cube_days

CUBE_FORMAT = 4  # raise when the cube's layout or content rules change: forces rebuilds
TIME_CHUNK = 32  # days of one block (and of the cube's time chunks)

RETRY = ":retry"  # a block key so marked matches no manifest: the next run rebuilds the block


def retry_skipped(
    keys: list[str], skipped: list[str], manifest: dict[str, Any], first: date
) -> list[str]:
    """The block keys to store: a block that skipped an unreadable granule is marked, so the
    next run rebuilds it and reads the granule again (re-downloaded, it may be whole now)
    instead of calling the cube current without it."""
    granules = manifest.get("granules", {})
    marked = {  # a file of the days before the year: the first block, which they lead into
        max(0, (date.fromisoformat(granules[name]["day"]) - first).days // TIME_CHUNK)
        for name in skipped
        if name in granules
    }
    return [k + RETRY if i in marked else k for i, k in enumerate(keys)]


def block_keys(manifest: dict[str, Any], region: Region, year: int, strict: bool) -> list[str]:
    """The key of each 32-day block of the year: what a cube built from `manifest` holds."""
    first, days = date(year, 1, 1), cube_days(manifest, year)
    return [
        _block_key(manifest, region, strict, first, b0, min(TIME_CHUNK, days - b0))
        for b0 in range(0, days, TIME_CHUNK)
    ]


def _daily(record: dict[str, Any]) -> bool:
    return record["product"] in ("SPL2SMAP_S", "SPL3SMP_E")


def _basis(manifest: dict[str, Any], region: Region, strict: bool) -> dict[str, Any]:
    """What every day depends on: the yearly and static files, the grid, the boundary and the
    settings."""
    return {
        "format": CUBE_FORMAT,
        "granules": sorted(
            (r["name"], r.get("checksum"), r.get("size"))
            for r in manifest.get("granules", {}).values()
            if not _daily(r)
        ),
        "grid": [region.grid.row0, region.grid.col0, *region.grid.shape],
        "boundary": None
        if region.boundary is None
        else hashlib.sha256(region.boundary.read_bytes()).hexdigest(),
        "strict": strict,
    }


def _block_key(
    manifest: dict[str, Any], region: Region, strict: bool, first: date, b0: int, n: int
) -> str:
    """What one block of days depends on: its days' granules and what every day depends on."""
    lo, hi = first + timedelta(days=b0), first + timedelta(days=b0 + n - 1)
    basis = _basis(manifest, region, strict)
    basis["granules"] = sorted(
        [
            *(tuple(g) for g in basis["granules"]),
            *(
                (r["name"], r.get("checksum"), r.get("size"))
                for r in manifest.get("granules", {}).values()
                if _daily(r) and lo <= date.fromisoformat(r["day"]) <= hi
            ),
        ]
    )
    basis["days"] = [lo.isoformat(), n]
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


def day_keys(
    manifest: dict[str, Any], region: Region, year: int, strict: bool, blocks: list[str]
) -> list[str]:
    """A short key per day of the cube: the day's own granules and what every day depends on
    (a day of a block marked for retry is marked too). A fill compares them to tell which days
    changed, one by one: a night that adds a day changes that day's key alone."""
    first, days = date(year, 1, 1), cube_days(manifest, year)
    common = hashlib.sha256(json.dumps(_basis(manifest, region, strict), sort_keys=True).encode())
    by_day: dict[str, list[tuple[Any, ...]]] = {}
    for r in manifest.get("granules", {}).values():
        if _daily(r):
            by_day.setdefault(r["day"], []).append((r["name"], r.get("checksum"), r.get("size")))
    out = []
    for t in range(days):
        day = (first + timedelta(days=t)).isoformat()
        h = common.copy()
        h.update(json.dumps([day, sorted(by_day.get(day, []))]).encode())
        retry = RETRY if blocks[t // TIME_CHUNK].endswith(RETRY) else ""
        out.append(h.hexdigest()[:16] + retry)
    return out


def previous_build(out: Path) -> dict[str, Any]:
    """The build report stored in an existing cube ({} when there is none or it is unreadable)."""
    try:
        import zarr

        build = zarr.open_group(out, mode="r").attrs.get("build", {})
        return dict(build) if isinstance(build, dict) else {}
    except Exception:  # no cube yet, or a damaged one: either way, build
        return {}
