"""The fill's two kinds of task, each a pure function of a `FillJob` and one work unit, so they
run the same in this process or on any dask worker that can read the data folder.

- `predict_tile`: the model on one tile window (check values hidden), its output saved as
  `fill.parts/tile-NNNNN.npz` (written beside, then renamed), with the check values and, on
  scored tiles, what each baseline put there.
- `blend_square`: one square of whole output chunks: the tiles reaching it blended with tapered
  weights (no seams at tile edges), observed values copied from the cube, written into its own
  chunks of `filled.zarr.part` (no two squares share a chunk, so no lock is needed), then a
  `square-NNNNN.json` marker with what the square holds.

The std the model gives is scaled when a square is written (`FillJob.std_factor`), by a factor
fitted on half of the check's values between the two kinds of task (`fill_scores.std_factor`).

A unit whose file is already there is not computed again: a fill killed half-way resumes.
Workers load the checkpoint once each, from its path (`imputer`), never from a pickled model.

A refill (`FillJob.refill`: some days of the cube changed since the last fill) asks the model
for the days it rewrites alone (`FillJob.rewrite`): only the time windows holding one run, and
each square keeps the earlier product on every other day.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.cube import open_cube
from pipeline.fill_inputs import TARGET, Features, Holdout, window_arrays, window_holdout
from pipeline.refill import day_mask
from pipeline.stitch import blend_weights
from pipeline.tile import Window, land_mask

NO_DATA, OBSERVED, FILLED = 0, 1, 2
OUTPUTS = ("soil_moisture", "soil_moisture_uncertainty", "flag")


@dataclass(frozen=True)
class FillJob:
    """Everything a task needs, small and picklable: paths, not arrays or models."""

    cube: str
    store: str  # filled.zarr.part
    parts: str  # fill.parts/
    checkpoint: str
    checkpoint_sha256: str
    features: Features
    device: str
    threads: int
    shape: tuple[int, int]  # region (H, W)
    origin: tuple[int, int]  # EASE (row0, col0) of the region
    overlap: int
    holdout: Holdout
    seed: int
    valid: tuple[float, float]
    tile_side: int  # pixels of the largest tile with its halo
    baselines: tuple[str, ...] = ()
    scored: frozenset[int] = field(default_factory=frozenset)
    rewrite: tuple[int, ...] = ()  # a refill: the days it writes (the rest stay as they were)
    prior: str = ""  # the region's prior (`fill_prior`) when the model reads one
    std_factor: float = 1.0  # on the model's std, fitted on half of the check (`fill_scores`)
    window_offsets: tuple[int, ...] = (0,)  # the model's answers averaged over these (InferConfig)

    @property
    def refill(self) -> bool:
        """A refill writes some days (`rewrite`) and keeps the earlier product's others; a full
        fill writes every day."""
        return bool(self.rewrite)


@lru_cache(maxsize=2)
def imputer(
    path: str, sha256: str, device: str, threads: int, side: int, offsets: tuple[int, ...] = (0,)
) -> Any:
    """The checkpoint, loaded once per worker process (the digest keys the cache, so a new
    checkpoint at the same path is loaded afresh). `side`: the largest tile with its halo, which
    the model fills whole: the pipeline's tile is the only tiling (no tile of a tile).
    `offsets`: the spatial attention windows' offsets whose answers are averaged."""
    import torch

    import stimpute

    if threads:
        torch.set_num_threads(threads)
    imp = stimpute.Imputer.load(path, device=worker_device(device))
    imp.set_inference(infer_tile=side, window_offsets=offsets)
    return imp


def worker_device(device: str) -> str:
    """The device of this worker: a worker of a plain LocalCluster on a multi-GPU machine takes
    the GPU of its own index; under dask-cuda each worker already sees one GPU."""
    if device not in ("auto", "cuda"):
        return device
    import torch

    if not torch.cuda.is_available():
        return "cpu" if device == "auto" else device
    try:
        from distributed import get_worker

        name = get_worker().name
    except (ImportError, ValueError):
        return "cuda"
    index = name if isinstance(name, int) else 0
    return f"cuda:{index % torch.cuda.device_count()}"


def tile_path(job: FillJob, k: int) -> Path:
    return Path(job.parts) / f"tile-{k:05d}.npz"


def predict_tile(job: FillJob, unit: tuple[int, Window]) -> dict[str, Any]:
    """Impute one tile; return its summary (the saved file's, when it was done before)."""
    k, w = unit
    path = tile_path(job, k)
    if path.exists():
        with np.load(path) as z:
            return _summary(k, z, reused=True)
    import zarr

    import stimpute

    imp = imputer(
        job.checkpoint, job.checkpoint_sha256, job.device, job.threads, job.tile_side,
        job.window_offsets,
    )  # fmt: skip
    cube = open_cube(Path(job.cube), dask=False)
    arr = window_arrays(cube, job.features, w)
    land = land_mask(cube, w)
    hide = window_holdout(arr, w, *job.origin, job.holdout) & land[None]
    visible = np.where(hide | ~land[None], np.nan, arr.values).astype(np.float32)
    prior = (  # the region's prior at this tile, the same where tiles overlap
        np.asarray(zarr.open_array(job.prior, mode="r")[:, w.rows, w.cols]) if job.prior else None
    )
    t0 = time.perf_counter()
    steps = day_mask(job.rewrite, len(arr.times)) if job.refill else None  # a refill's days
    res = imp.impute(
        visible, arr.covariates, arr.static, times=arr.times, prior=prior,
        rain_before=arr.rain_before, steps=steps,
    )  # fmt: skip
    infer_s = time.perf_counter() - t0
    t, r, c = np.nonzero(hide)
    kept = list(job.rewrite) if job.refill else slice(None)  # a refill keeps its days alone
    saved: dict[str, Any] = {
        "st": res.values[kept].astype(np.float32),
        "st_std": res.std[kept].astype(np.float32),
        "t": t.astype(np.int16),
        "r": (r + w.row).astype(np.int32),
        "c": (c + w.col).astype(np.int32),
        "truth": arr.values[hide].astype(np.float32),
        # the tile's own answers there (a refill's tiles hold some days only: none)
        "check_st": (res.values[hide] if not job.refill else np.zeros(0)).astype(np.float32),
        "check_std": (res.std[hide] if not job.refill else np.zeros(0)).astype(np.float32),
        "stats": np.array(
            [infer_s, visible.size, float(np.isfinite(visible).any()), 0.0], np.float64
        ),
    }
    if hide.any() and k in job.scored:
        t0 = time.perf_counter()
        for m in job.baselines:
            pred = stimpute.Imputer(m, seed=job.seed).fit(visible, times=arr.times)
            saved[f"baseline_{m}"] = pred.impute(visible, times=arr.times).values[hide]
        saved["stats"][3] = time.perf_counter() - t0
    tmp = path.with_name(path.stem + ".part.npz")
    np.savez(tmp, **saved)
    os.replace(tmp, path)
    with np.load(path) as z:
        return _summary(k, z, reused=False)


def _summary(k: int, z: Any, *, reused: bool) -> dict[str, Any]:
    infer_s, pixel_days, anchored, baseline_s = (float(v) for v in z["stats"])
    return {
        "tile": k,
        "reused": reused,
        "infer_s": infer_s,
        "baseline_s": baseline_s,
        "pixel_days": int(pixel_days),
        "empty": not anchored,
        "check": {n: z[n] for n in ("t", "r", "c", "truth", "check_st", "check_std")},
        "baselines": {n[9:]: z[n] for n in z.files if n.startswith("baseline_")},
    }


def squares(shape: tuple[int, int], side: int) -> list[Window]:
    """The region cut into squares of `side` pixels (whole output chunks; smaller at the edges)."""
    h, w = shape
    return [
        Window(r, c, min(side, h - r), min(side, w - c))
        for r in range(0, h, side)
        for c in range(0, w, side)
    ]


def blend(
    sq: Window,
    pieces: Iterable[tuple[Window, dict[str, np.ndarray]]],
    overlap: int,
    shape: tuple[int, int],
    n_time: int,
) -> dict[str, np.ndarray]:
    """The square `sq` of the region from overlapping tile outputs (T, h, w) per field: each tile
    weighted by a taper over `overlap` pixels on sides that meet another tile, the weighted
    sums divided by the summed weights (NaN where no tile reaches)."""
    sums: dict[str, np.ndarray] = {}
    weight = np.zeros((sq.height, sq.width), np.float32)
    for w, fields in pieces:
        r0, r1 = max(w.row, sq.row), min(w.row + w.height, sq.row + sq.height)
        c0, c1 = max(w.col, sq.col), min(w.col + w.width, sq.col + sq.width)
        if r0 >= r1 or c0 >= c1:
            continue
        wt = blend_weights(w, overlap, shape)[r0 - w.row : r1 - w.row, c0 - w.col : c1 - w.col]
        here = (slice(None), slice(r0 - sq.row, r1 - sq.row), slice(c0 - sq.col, c1 - sq.col))
        for f, values in fields.items():
            if f not in sums:
                sums[f] = np.zeros((n_time, sq.height, sq.width), np.float32)
            sums[f][here] += values[:, r0 - w.row : r1 - w.row, c0 - w.col : c1 - w.col] * wt
        weight[here[1:]] += wt
    with np.errstate(invalid="ignore", divide="ignore"):
        return {f: v / weight[None] for f, v in sums.items()}


def square_path(job: FillJob, i: int) -> Path:
    return Path(job.parts) / f"square-{i:05d}.json"


def blend_square(
    job: FillJob, unit: tuple[int, Window, list[tuple[int, Window]]]
) -> dict[str, Any]:
    """Blend the tiles reaching one square and write the square's chunks of the product (a
    refill: its days alone, the tiles holding those days alone)."""
    i, sq, tiles = unit
    marker = square_path(job, i)
    if marker.exists():
        return _square_summary(json.loads(marker.read_text()), i)
    import zarr

    cube = open_cube(Path(job.cube), dask=False)
    days = list(job.rewrite) if job.refill else slice(None)  # the days the tiles hold
    # float32, NaN where missing
    observed = cube[TARGET].isel(time=days, y=sq.rows, x=sq.cols).values
    land = land_mask(cube, sq)

    def pieces() -> Iterator[tuple[Window, dict[str, np.ndarray]]]:
        for k, w in tiles:
            with np.load(tile_path(job, k)) as z:
                yield w, {"st": z["st"], "st_std": z["st_std"]}

    blended = blend(sq, pieces(), job.overlap, job.shape, len(observed))
    st, st_std = blended["st"], blended["st_std"] * np.float32(job.std_factor)
    filled = np.clip(st, *job.valid)  # NaN (no tile reached it) stays NaN
    seen = np.isfinite(observed) & land[None]
    fill = ~seen & land[None] & np.isfinite(filled)
    out: dict[str, np.ndarray] = {
        "soil_moisture": np.where(seen, observed, np.where(fill, filled, np.nan)).astype(np.float32),
        "soil_moisture_uncertainty": np.where(seen, 0.0, np.where(fill, st_std, np.nan)).astype(np.float32),
        "flag": np.where(seen, OBSERVED, np.where(fill, FILLED, NO_DATA)).astype(np.uint8),
    }  # fmt: skip
    group = zarr.open_group(job.store, mode="r+")
    if job.refill:  # a refill: the store is the earlier product; only `rewrite` days change
        earlier: Any = group["flag"]
        flag = np.asarray(earlier[:, sq.rows, sq.cols])
        flag[days] = out["flag"]
        seen, fill = flag == OBSERVED, flag == FILLED  # what the square holds, kept days included
    for name in OUTPUTS:  # the days written: all, or a refill's own
        array: Any = group[name]
        array.oindex[days, sq.rows, sq.cols] = out[name]
    record = {
        "observed": int(seen.sum()),
        "filled": int(fill.sum()),
        "no_data": int(seen.size - seen.sum() - fill.sum()),
        # the model's answers at the square's check values, scored against the truth by the
        # driver (a refill checks none: the earlier answers on the days it keeps are not kept)
        **({} if job.refill else check_answers(job, sq, seen, filled, st_std)),
    }
    tmp = marker.with_name(marker.name + ".part")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, marker)
    return _square_summary(record, i)


def check_answers(
    job: FillJob, sq: Window, seen: np.ndarray, filled: np.ndarray, st_std: np.ndarray
) -> dict[str, list[Any]]:
    """Where the square's check values are (t, r, c) and the model's answers there (st, st_std):
    the observed values the check hid; the arrays are the square's whole year (T, h, w)."""
    gt = np.arange(len(seen))[:, None, None]
    gr = (job.origin[0] + sq.row + np.arange(sq.height))[None, :, None]
    gc = (job.origin[1] + sq.col + np.arange(sq.width))[None, None, :]
    hide = job.holdout.mask(gt, gr, gc) & seen
    t, r, c = np.nonzero(hide)
    return {
        "t": t.tolist(),
        "r": (r + sq.row).tolist(),
        "c": (c + sq.col).tolist(),
        "st": filled[hide].tolist(),
        "st_std": st_std[hide].tolist(),
    }


def _square_summary(record: dict[str, Any], i: int) -> dict[str, Any]:
    return {"square": i, **record}
