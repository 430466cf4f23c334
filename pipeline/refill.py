"""What a fill redoes when only some days of its cube changed (a reissued scene, a rebuilt block):
the refill plan.

The cube records a key per 32-day block of the granules it was built from; the fill records the
keys it was made from. When the model, tiles, overlap, check and seed are those of the last fill
and the year has as many days or more (the year in progress grew: its new days are changed
days), the blocks whose keys differ give the changed days (grown by the
reach of the 9 km prior in time, when the model uses it). Each tile then runs only the time
windows that hold a changed day, and the days those windows alone cover are rewritten: there the
product is what a full fill would write. Every other day keeps the last fill's values (the one
input of those days that moves, each pixel's offset over the whole record, moves little).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pipeline.cube import TIME_CHUNK


@dataclass(frozen=True)
class Refill:
    """The days a refill recomputes from (`changed`) and writes (`rewrite`), as step indices."""

    changed: tuple[int, ...]
    rewrite: tuple[int, ...]
    blocks: int  # cube blocks that changed

    def summary(self, n_time: int) -> dict[str, Any]:
        return {
            "cube_blocks_changed": self.blocks,
            "days_changed": len(self.changed),
            "days_rewritten": len(self.rewrite),
            "days_kept": n_time - len(self.rewrite),
            "rewritten": _runs(self.rewrite),
        }


def _runs(days: tuple[int, ...]) -> list[list[int]]:
    """Step indices as [first, last] runs: [[34, 77]] rather than 44 numbers."""
    runs: list[list[int]] = []
    for d in days:
        if runs and runs[-1][1] == d - 1:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    return runs


def cube_blocks(cube: xr.Dataset) -> list[str]:
    """The cube's key per block of TIME_CHUNK days (what each was built from)."""
    return list(cube.attrs.get("build", {}).get("blocks", []))


def changed_days(old: list[str], new: list[str], n_time: int, reach: int) -> np.ndarray:
    """(n_time,) bool: the days of the blocks whose keys differ or that are new (the year in
    progress grew), grown by `reach` days."""
    changed = np.zeros(n_time, bool)
    for i, b in enumerate(new):
        if i >= len(old) or old[i] != b:
            changed[i * TIME_CHUNK : (i + 1) * TIME_CHUNK] = True
    if reach and changed.any():
        grown = np.convolve(changed, np.ones(2 * reach + 1), mode="same") > 0
        changed = grown[:n_time]
    return changed


def plan(
    previous: dict[str, Any],
    out: Path,
    cube: xr.Dataset,
    reuse_key: str,
    imputer: Any,
    uses_prior: bool,
) -> Refill | None:
    """The refill after the last fill (`previous`, its record), or None when a full fill is
    due: no earlier product, another model/tiling/check, a year of another length, or every
    time window touched anyway."""
    from stimpute.covariates import PRIOR_REACH

    n_time = cube.sizes["time"]
    old = previous.get("inputs", {}).get("cube_blocks")
    new = cube_blocks(cube)
    days = previous.get("days")
    if (
        not out.exists()
        or previous.get("reuse_key") != reuse_key
        or not isinstance(days, int)
        or not 0 < days <= n_time  # as many days, or the year in progress grown
        or not isinstance(old, list)
        or len(old) > len(new)
    ):
        return None
    changed = changed_days(old, new, n_time, PRIOR_REACH if uses_prior else 0)
    if not changed.any():
        return None
    rewrite = imputer.refill_steps(n_time, changed)
    if rewrite.all():
        return None
    blocks = sum(i >= len(old) or old[i] != b for i, b in enumerate(new))
    return Refill(
        tuple(int(t) for t in np.flatnonzero(changed)),
        tuple(int(t) for t in np.flatnonzero(rewrite)),
        blocks,
    )
