"""The region's 9 km prior, computed once by squares and kept beside the fill for the next night.

The model reads the 9 km product as a smooth prior, `stimpute.covariates.prior_field` of it:
a Gaussian in space (three `prior_spread` either side) and an exponential over `PRIOR_REACH`
days either side in time. Computed per tile, each tile grown by the Gaussian's reach, the
region's prior was computed about four times over (tiles of 44 pixels grown by 14 on each
side), and every night over the whole year again for one new day. Here it is computed once per
cube: squares of whole chunks, each grown by the reach, as tasks on the fill's cluster, written
into `prior.zarr` (no two squares share a chunk, so no lock is needed), and the tiles read it.

The store records the cube's day keys it was made from (`refill.cube_days`). The next run
recomputes only the days a changed or new day reaches; every other day is the whole record's
prior already (`prior_field(days=...)`). While squares are being written the store vouches only
for the days before the first one recomputed, so a run killed half-way redoes those days.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from pipeline.cluster import Runner
from pipeline.cube import SPACE_CHUNK, open_cube
from pipeline.cube_keys import TIME_CHUNK
from pipeline.fill_inputs import window_prior
from pipeline.progress import Ticker
from pipeline.refill import cube_days
from pipeline.tile import Window
from stimpute.covariates import PRIOR_REACH

PRIOR_STORE = "prior.zarr"
SQUARE = 2 * SPACE_CHUNK  # pixels of a task's square: whole chunks, grown by the reach to compute


@dataclass(frozen=True)
class PriorJob:
    """What a square's task needs: paths and numbers, picklable."""

    cube: str
    store: str  # prior.zarr
    spread: float
    memory: float
    days: tuple[int, int]  # [first, end) the steps to compute
    threads: int = 0


def days_to_compute(
    made: dict[str, Any] | None, keys: list[str], spread: float, memory: float
) -> tuple[int, int]:
    """[first, end) the steps whose prior the cube's changes since `made` (the store's record)
    reach: all of them for a new store or other settings; (n, n) when the store is current."""
    n = len(keys)
    if not made or made.get("spread") != spread or made.get("memory") != memory:
        return 0, n
    old = list(made.get("day_keys") or [])
    if len(old) > n:
        return 0, n
    changed = [i for i, (a, b) in enumerate(zip(old, keys, strict=False)) if a != b]
    first = min([*changed, len(old)])
    if first >= n:
        return n, n
    last = n if len(old) < n else max(changed) + 1
    return max(0, first - PRIOR_REACH), min(n, last + PRIOR_REACH)


def ensure_prior(
    folder: Path,
    cube: xr.Dataset,
    spread: float,
    memory: float,
    runner: Runner,
    progress: Any = None,
) -> Path:
    """Bring folder/prior.zarr up to date with `cube` (its days as the cube's); return the path
    of its `prior` array (T, H, W), float32."""
    import zarr

    from pipeline.fill_tasks import squares

    store = folder / PRIOR_STORE
    n_time, shape = cube.sizes["time"], (cube.sizes["y"], cube.sizes["x"])
    keys = cube_days(cube)
    known = len(keys) == n_time  # a cube that names no days: its prior is computed afresh
    made = _made(store, shape) if known else None
    first, end = days_to_compute(made, keys if known else [""] * n_time, spread, memory)
    if first >= end:
        return store / "prior"
    if made is None:
        shutil.rmtree(store, ignore_errors=True)
        group = zarr.open_group(str(store), mode="w", zarr_format=2)
        group.create_array(
            "prior",
            shape=(n_time, *shape),
            chunks=(TIME_CHUNK, SPACE_CHUNK, SPACE_CHUNK),
            dtype="float32",
            fill_value=float("nan"),
        )
        made = {"day_keys": []}
    group = zarr.open_group(str(store), mode="r+")
    array: Any = group["prior"]
    if array.shape[0] != n_time:
        array.resize((n_time, *shape))
    group.attrs.update(
        spread=spread, memory=memory, shape=list(shape), day_keys=made["day_keys"][:first]
    )
    job = PriorJob(str(folder / "cube.zarr"), str(store / "prior"), spread, memory, (first, end),
                   runner.threads)  # fmt: skip
    units = list(enumerate(squares(shape, SQUARE)))
    ticker = Ticker(progress, "prior", len(units), "squares")
    for _ in runner.map(prior_square, units, job, what="prior square", gpu=False):
        ticker.advance()
    group.attrs["day_keys"] = keys if known else []
    return store / "prior"


def prior_square(job: PriorJob, unit: tuple[int, Window]) -> int:
    """Compute and write the prior of one square on the job's days (a CPU task: a smoothing in
    space and one in time); return the square's pixels."""
    import torch
    import zarr

    if job.threads:
        torch.set_num_threads(job.threads)
    sq = unit[1]
    cube = open_cube(Path(job.cube), dask=False)
    first, end = job.days
    prior = window_prior(cube, sq, job.spread, job.memory, slice(first, end))
    array: Any = zarr.open_array(job.store, mode="r+")
    array[first:end, sq.rows, sq.cols] = prior
    return sq.height * sq.width


def _made(store: Path, shape: tuple[int, int]) -> dict[str, Any] | None:
    """The store's record, or None when there is none to build on (absent, unreadable, another
    region's shape)."""
    import zarr

    try:
        group = zarr.open_group(str(store), mode="r")
        attrs: dict[str, Any] = dict(group.attrs)
        ok = "prior" in group and tuple(attrs.get("shape") or ()) == shape
    except Exception:  # noqa: BLE001 - any damage means: build it afresh
        return None
    return attrs if ok else None
