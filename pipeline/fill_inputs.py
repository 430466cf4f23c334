"""What the fill stage gives the model: arrays of a cube window, and the held-out check values.

Dynamic covariates are the cube's (time, y, x) fields other than the target (SPL3SMP_E 9 km,
Daymet); static ones are elevation, sand, clay and land cover as IGBP groups (one-hot). The
names are recorded with a checkpoint, so a model is only ever given the fields it learnt on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import xarray as xr

from pipeline.cube import BEFORE
from pipeline.errors import FillError
from pipeline.tile import Window
from stimpute.covariates import prior_field

TARGET = "soil_moisture"
PRIOR = "sm_9km"  # the coarse product the model corrects (`stimpute` prior_covariate)
RAIN = "prcp"  # Daymet's daily rain, the model's `rain_covariate`
RAIN_BEFORE = f"{RAIN}{BEFORE}"  # the rain of the days before the year (its indices' lead-in)
NOT_COVARIATES = {TARGET, "observed"}
STATIC_NUMERIC = ("elevation", "sand", "clay")
# IGBP LC_Type1 classes grouped into the covers that drive soil-moisture dynamics differently
LAND_GROUPS = {
    "forest": (1, 2, 3, 4, 5),
    "shrub": (6, 7),
    "savanna": (8, 9),
    "grass": (10,),
    "crop": (12, 14),
    "other": (11, 13, 15, 16),
}


@dataclass(frozen=True)
class Features:
    """The ordered covariate names a model was trained with."""

    dynamic: tuple[str, ...]
    static: tuple[str, ...]

    @classmethod
    def of(cls, cube: xr.Dataset) -> Features:
        dynamic = tuple(
            sorted(
                str(n)
                for n, v in cube.data_vars.items()
                if v.dims == ("time", "y", "x") and n not in NOT_COVARIATES
            )
        )
        static = tuple(n for n in STATIC_NUMERIC if n in cube)
        if "land_cover" in cube:
            static += tuple(f"lc_{g}" for g in LAND_GROUPS)
        return cls(dynamic, static)

    def as_dict(self) -> dict[str, list[str]]:
        return {"dynamic": list(self.dynamic), "static": list(self.static)}

    def check(self, cube: xr.Dataset) -> None:
        have = Features.of(cube)
        missing = (set(self.dynamic) - set(have.dynamic)) | (set(self.static) - set(have.static))
        if missing:
            raise FillError(
                f"the checkpoint was trained with {', '.join(sorted(missing))}, which this cube lacks: "
                "download those products, or train a new checkpoint (make train) for this cube"
            )


@dataclass
class Arrays:
    """One window's model inputs (float32; NaN where missing)."""

    values: np.ndarray  # (T, h, w)
    covariates: np.ndarray  # (T, h, w, C)
    static: np.ndarray  # (h, w, S)
    times: np.ndarray  # (T,) day of year
    # (days, h, w) the rain before the year, when the model reads rain and the cube has it
    rain_before: np.ndarray | None = None


def window_arrays(cube: xr.Dataset, features: Features, w: Window) -> Arrays:
    """The model inputs of one window, read from the cube's chunks that hold it (nothing else)."""
    sel = cube.isel(y=w.rows, x=w.cols)
    names = [TARGET, *features.dynamic, *(n for n in STATIC_NUMERIC if n in features.static)]
    if any(s.startswith("lc_") for s in features.static):
        names.append("land_cover")
    band = {n: np.asarray(sel[n].values, dtype=np.float32) for n in names}
    times = cube["time"].dt.dayofyear.values.astype(np.float32)
    values = band[TARGET]
    if features.dynamic:
        cov = np.stack([band[n] for n in features.dynamic], axis=-1)
    else:
        cov = np.zeros((*values.shape, 0), np.float32)
    static = []
    for name in features.static:
        if name.startswith("lc_"):
            static.append(np.isin(band["land_cover"], LAND_GROUPS[name[3:]]).astype(np.float32))
        else:
            field = band[name]
            fill = np.nanmean(field) if np.isfinite(field).any() else 0.0
            static.append(np.where(np.isfinite(field), field, fill).astype(np.float32))
    before = None
    if RAIN in features.dynamic and RAIN_BEFORE in cube:
        before = np.asarray(sel[RAIN_BEFORE].values, dtype=np.float32)
    return Arrays(values, cov, np.stack(static, axis=-1), times, before)


def window_prior(
    cube: xr.Dataset, w: Window, spread: float, memory: float, days: slice | None = None
) -> np.ndarray:
    """(T, h, w) the model's prior of window `w` (`stimpute.covariates.prior_field` of the 9 km
    product), computed over the window grown by the reach of the prior's Gaussian, so that it
    equals the prior of the whole region: neighbouring windows agree where they overlap, and
    the fill has no step at tile edges. `days`: only those steps (T', h, w)."""

    margin = math.ceil(3 * spread)
    height, width = cube.sizes["y"], cube.sizes["x"]
    r0, c0 = max(0, w.row - margin), max(0, w.col - margin)
    r1, c1 = min(height, w.row + w.height + margin), min(width, w.col + w.width + margin)
    coarse = cube[PRIOR].isel(y=slice(r0, r1), x=slice(c0, c1)).values
    prior = prior_field(coarse.reshape(len(coarse), -1), (r1 - r0, c1 - c0), spread, memory, days)
    prior = prior.reshape(len(prior), r1 - r0, c1 - c0)
    return prior[:, w.row - r0 : w.row - r0 + w.height, w.col - c0 : w.col - c0 + w.width]


HOLDOUT_BY = ("block", "point")
HOLDOUT_BLOCK = 36  # pixels of a held-out block: a 36 x 36 km piece of the global grid
CALIBRATION_SEED = 7919  # a hash seed of its own: the halves cut across the check's choice


@dataclass(frozen=True)
class Holdout:
    """Which observed values a run hides from the model and the baselines to check itself.

    By "block" (the default) every observation of a 36 x 36 km block of the global grid on one
    day is hidden together, so the check's values sit in gaps like those of a missed overpass,
    with no observed neighbour that day, and its error predicts the error of the fill. By
    "point", single values are hidden among observed neighbours: an easier, flattering check.
    The choice is a hash of the day and the global EASE row and column, so every tile, every
    worker and every re-run hides the same values."""

    share: float = 0.05  # of the blocks-days (or pixel-days) with observations
    by: str = "block"
    seed: int = 0

    def mask(self, t: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """True where a value is held out (broadcast over t and the global rows and cols)."""
        if self.by == "block":
            rows, cols = rows // HOLDOUT_BLOCK, cols // HOLDOUT_BLOCK
        return _pick(t, rows, cols, self.share, self.seed)

    def describe(self) -> str:
        what = "36 x 36 km blocks on a day" if self.by == "block" else "single values"
        return f"{self.share:.0%} held out as {what} (seed {self.seed})"

    def units(self, t: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> int:
        """How many distinct held-out units these values are: block-days, or single values."""
        if self.by == "block":
            rows, cols = rows // HOLDOUT_BLOCK, cols // HOLDOUT_BLOCK
        keys = np.stack(np.broadcast_arrays(t, rows, cols)).reshape(3, -1)
        return int(np.unique(keys, axis=1).shape[1])

    def calibrates(self, t: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """True where a held-out value is in the half of the check that scales the model's std
        (whole blocks-days, or single values, as held out); the other half scores the intervals
        that scaling gives, so their coverage is measured on values it did not see."""
        return replace(self, share=0.5, seed=self.seed + CALIBRATION_SEED).mask(t, rows, cols)


def _pick(t: np.ndarray, rows: np.ndarray, cols: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A deterministic share of the (t, row, col) cells, by hash."""
    if share <= 0:
        return np.zeros(np.broadcast_shapes(t.shape, rows.shape, cols.shape), dtype=bool)
    h = (
        t.astype(np.uint64) * np.uint64(73856093)
        ^ rows.astype(np.uint64) * np.uint64(19349663)
        ^ cols.astype(np.uint64) * np.uint64(83492791)
        ^ np.uint64(seed * 2654435761 % 2**32)
    )
    h = (h * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)  # mix, keep 24 bits
    return h.astype(np.float64) / float(1 << 24) < share


def window_holdout(arr: Arrays, w: Window, row0: int, col0: int, holdout: Holdout) -> np.ndarray:
    """(T, h, w) True where an observed value of the window is held out for checking."""
    t = np.arange(arr.values.shape[0])[:, None, None]
    r = (row0 + w.row + np.arange(w.height))[None, :, None]
    c = (col0 + w.col + np.arange(w.width))[None, None, :]
    return holdout.mask(t, r, c) & np.isfinite(arr.values)
