"""What a fill redoes when only some days of its cube changed (a reissued scene, new days of
the year in progress): the refill plan.

The cube records a key per day of what it was built from; the fill records the keys it was made
from. When the model, tiles, overlap, check and seed are those of the last fill and the year has
as many days or more, the days whose keys differ are the changed days. Two kinds of night:

- Earlier days changed (a reissue, a rebuilt block): the changed days are grown by the reach of
  the 9 km prior in time (when the model uses it), each tile runs only the time windows that
  hold one, and the days those windows alone cover are rewritten: there the product is what a
  full fill would write.
- Only new days (the year in progress grew): each tile runs the windows that hold a new day and
  writes the new days alone. Days already published keep their values, so a copy of them synced
  last night stays valid; they are what a fill with the data of their own night made.

Every other day keeps the last fill's values (the one input of those days that moves, each
pixel's offset over the whole record, moves little).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr


@dataclass(frozen=True)
class Refill:
    """The days a refill recomputes from (`changed`) and writes (`rewrite`), as step indices."""

    changed: tuple[int, ...]
    rewrite: tuple[int, ...]
    blocks: int  # cube blocks that changed
    appended: int = 0  # days new since the last fill (the year in progress grew)

    @property
    def only_new_days(self) -> bool:
        return len(self.rewrite) == self.appended

    def summary(self, n_time: int) -> dict[str, Any]:
        return {
            "cube_blocks_changed": self.blocks,
            "days_new": self.appended,
            "days_changed": len(self.changed),
            "days_rewritten": len(self.rewrite),
            "days_kept": n_time - len(self.rewrite),
            "rewritten": [list(r) for r in day_runs(self.rewrite)],
        }


def day_runs(days: Iterable[int]) -> list[tuple[int, int]]:
    """Step indices as (first, last) runs of consecutive steps: [(34, 77)] rather than 44."""
    runs: list[list[int]] = []
    for d in days:
        if runs and runs[-1][1] == d - 1:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    return [(a, b) for a, b in runs]


def refilled_days(refill: dict[str, Any] | None, held: str | None) -> set[int] | None:
    """The steps a refill rewrote (the `rewritten` runs of its summary, `Refill.summary` with
    `from`), when it is a refill of the fill `held` (a fingerprint: the fill an export's files
    or a score's sums hold); None when it is not (a whole fill, or a refill of another fill)."""
    if not refill or not refill.get("from") or refill["from"] != held:
        return None
    return {t for a, b in refill.get("rewritten", []) for t in range(a, b + 1)}


def day_mask(days: tuple[int, ...], n_time: int) -> np.ndarray:
    """(n_time,) bool, True on the step indices `days`."""
    out = np.zeros(n_time, bool)
    out[list(days)] = True
    return out


def cube_blocks(cube: xr.Dataset) -> list[str]:
    """The cube's key per block of TIME_CHUNK days (what each was built from)."""
    return list(cube.attrs.get("build", {}).get("blocks", []))


def cube_days(cube: xr.Dataset) -> list[str]:
    """The cube's key per day."""
    return list(cube.attrs.get("build", {}).get("day_keys", []))


def changed_days(old: list[str], new: list[str], reach: int) -> tuple[np.ndarray, np.ndarray]:
    """(changed, new) (len(new),) bool: the earlier days whose keys differ, grown by `reach`
    days; and the days the earlier keys do not reach (the year in progress grew)."""
    n_time = len(new)
    changed = np.array([i < len(old) and old[i] != k for i, k in enumerate(new)], bool)
    if reach and changed.any():
        changed = np.convolve(changed, np.ones(2 * reach + 1), mode="same")[:n_time] > 0
    return changed, np.arange(n_time) >= len(old)


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
    old = previous.get("inputs", {}).get("cube_days")
    new = cube_days(cube)
    days = previous.get("days")
    if (
        not out.exists()
        or previous.get("reuse_key") != reuse_key
        or not isinstance(days, int)
        or not 0 < days <= n_time  # as many days, or the year in progress grown
        or not isinstance(old, list)
        or len(old) != days
        or len(new) != n_time
    ):
        return None
    earlier, appended = changed_days(old, new, PRIOR_REACH if uses_prior else 0)
    if not (earlier | appended).any():
        return None
    if earlier.any():
        changed = earlier | appended
        rewrite = imputer.refill_steps(n_time, changed)
        if rewrite.all():
            return None
    else:  # only new days: their windows run, they alone are written
        changed = rewrite = appended
    old_blocks, new_blocks = previous["inputs"].get("cube_blocks") or [], cube_blocks(cube)
    blocks = sum(i >= len(old_blocks) or old_blocks[i] != b for i, b in enumerate(new_blocks))
    return Refill(
        tuple(int(t) for t in np.flatnonzero(changed)),
        tuple(int(t) for t in np.flatnonzero(rewrite)),
        blocks,
        int(appended.sum()),
    )
