"""The fill's product while it is made: the layout of `filled.zarr` and the resumable scratch.

The product is written into `filled.zarr.part` (laid out empty from `template`, or for a refill a
hard-linked copy of the published product, grown to the year in progress's days) and swapped in
when complete; finished units are kept in `fill.parts/` under the fill's key, so a killed fill
resumes where it stopped and a fill of another key starts afresh.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import xarray as xr

from pipeline.fill_tasks import FILLED, NO_DATA, OBSERVED
from pipeline.stores import grow_time, link_copy

log = logging.getLogger("pipeline")

CHUNKS = (32, 36, 36)  # the product's (time, y, x) chunks
SQUARE = 4 * CHUNKS[1]  # side of a blend square: 4 x 4 output chunks


def template(cube: xr.Dataset, land: np.ndarray) -> xr.Dataset:
    """The empty product of `cube`'s days and grid, lazily (written with compute=False)."""
    import dask.array as da

    shape = (cube.sizes["time"], cube.sizes["y"], cube.sizes["x"])
    dims = ("time", "y", "x")
    cf = {"grid_mapping": "spatial_ref"}
    nan = da.full(shape, np.nan, dtype=np.float32, chunks=CHUNKS)
    return xr.Dataset(
        {
            "soil_moisture": (dims, nan, {**cf, "units": "m3 m-3", "standard_name": "volume_fraction_of_condensed_water_in_soil", "long_name": "surface soil moisture, gap-filled (observed where flag = 1)", "valid_min": 0.0, "valid_max": 1.0}),
            "soil_moisture_uncertainty": (dims, nan, {**cf, "units": "m3 m-3", "long_name": "standard error of the filled value (0 where observed)"}),
            "flag": (dims, da.zeros(shape, dtype=np.uint8, chunks=CHUNKS), {**cf, "long_name": "how each value was obtained", "flag_values": np.array([NO_DATA, OBSERVED, FILLED], np.uint8), "flag_meanings": "no_data observed filled"}),
            "land": (("y", "x"), land.astype(np.uint8), {**cf, "long_name": "1 on land inside the region (filled), 0 no-data", "flag_values": np.array([0, 1], np.uint8), "flag_meanings": "no_data land"}),
        },
        coords={"spatial_ref": cube["spatial_ref"], "time": cube["time"], "y": cube["y"], "x": cube["x"]},
        attrs={"Conventions": "CF-1.8", **{k: v for k, v in cube.attrs.items() if k in ("ease_row0", "ease_col0")}},
    )  # fmt: skip


def resume_or_start(
    part: Path,
    parts: Path,
    key: str,
    cube: xr.Dataset,
    land: np.ndarray,
    start_from: Path | None = None,
) -> None:
    """Keep a half-done fill of the same key (store and finished units); else start afresh, from
    an empty store or (a refill) a copy of the earlier product `start_from`."""
    stamp = parts / "fingerprint"
    if part.exists() and stamp.exists() and stamp.read_text() == key:
        log.info("fill: resuming: %d tiles and %d squares already done",
                 len(list(parts.glob("tile-*.npz"))), len(list(parts.glob("square-*.json"))))  # fmt: skip
        return
    shutil.rmtree(part, ignore_errors=True)
    shutil.rmtree(parts, ignore_errors=True)
    if start_from is not None:
        link_copy(start_from, part)
        grow_time(part, cube.sizes["time"])  # the year in progress may have grown
    else:
        template(cube, land).to_zarr(
            part,
            compute=False,
            zarr_format=2,
            consolidated=True,
            encoding={"time": {"units": "days since 1970-01-01", "dtype": "int32"}},
        )
    parts.mkdir(parents=True)
    stamp.write_text(key)
