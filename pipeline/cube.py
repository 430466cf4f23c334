"""Stage `cube`: the downloaded granules of a region-year as one daily Zarr cube on the region grid.

`cube.zarr` holds `soil_moisture` (the SPL2SMAP_S target, NaN where missing), `observed`, the
dynamic covariates on the 1 km grid (`sm_9km`: SPL3SMP_E AM/PM mean interpolated bilinearly
between 9 km cell centres, inside the cells that have a value, so no cell edge shows in a model
that reads it; Daymet variables reprojected bilinearly), the static fields and
`in_region`, and the rain of the 60 days before the year (`prcp_before`, dims (time_before,
y, x), from the year before's Daymet file: the model's antecedent rain indices count it). Dims
(time, y, x), projected x/y in metres, EPSG:6933 as a CF grid mapping.
Chunks are (32 days, 36, 36): one chunk is one tile over a month, a pixel's year is 12 chunks.
The store is laid out first, then filled block by block: 32 days by a band of whole chunk rows
of about BAND_PIXELS pixels, so memory follows the block, not the region or the record. Each
32-day block keeps a fingerprint of its granules (`cube_keys.py`) so re-runs rebuild only what
changed, and all writing goes to `cube.zarr.part`, renamed when complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import xarray as xr

from pipeline.catalog import Product, Region
from pipeline.cube_chunks import ALL, damaged_blocks, write_sums
from pipeline.cube_inputs import DYNAMIC_ATTRS, BlockReader
from pipeline.cube_keys import TIME_CHUNK, block_keys, day_keys, previous_build, retry_skipped
from pipeline.errors import CubeError
from pipeline.files import part_of, swap_dir
from pipeline.grid import CRS, RegionGrid
from pipeline.progress import Ticker
from pipeline.provenance import give_back_memory
from pipeline.stores import grow_time
from pipeline.year import cube_days

log = logging.getLogger("pipeline")
BEFORE = "_before"  # suffix of a lead-in variable: `prcp_before`, the rain before the year
SPACE_CHUNK = 36
BAND_PIXELS = 60_000  # pixels of one band of rows built at a time (x 32 days x ~5 fields)


def grid_mapping() -> xr.DataArray:
    """The CF grid-mapping variable for EPSG:6933 (GDAL and rioxarray read `crs_wkt`)."""
    attrs = pyproj.CRS(CRS).to_cf()
    return xr.DataArray(np.int32(0), attrs=attrs)


def build(
    region: Region,
    year: int,
    products: dict[str, Product],
    *,
    raw: Path,
    out: Path,
    strict: bool = False,
    force: bool = False,
    progress: Any = None,
) -> dict[str, Any]:
    """Write `out` (cube.zarr) from the granules listed in `raw/manifest.json`; return a report.

    Each 32-day block carries a fingerprint of the granules it was built from. A cube whose
    blocks all match is left as it is (`up_to_date`); otherwise only the blocks whose granules
    changed (new days, reissues) are rebuilt, into a copy that replaces the cube when complete.
    `force` rebuilds everything.
    """
    start = time.perf_counter()
    manifest_path = raw / "manifest.json"
    if not manifest_path.is_file():
        raise CubeError(f"no {manifest_path}: run the download stage first (make download ...)")
    manifest = json.loads(manifest_path.read_text())
    grid: RegionGrid = region.grid
    first, days = date(year, 1, 1), cube_days(manifest, year)
    keys = block_keys(manifest, region, year, strict)
    starts = list(range(0, days, TIME_CHUNK))
    fingerprint = hashlib.sha256("".join(keys).encode()).hexdigest()
    previous = previous_build(out)
    damaged, bad = damaged_blocks(out) if previous and not force else (set(), [])
    if bad:
        log.warning(
            "cube: %d damaged chunk(s) (%s%s): their blocks are rebuilt",
            len(bad), ", ".join(bad[:3]), ", ..." if len(bad) > 3 else "",
        )  # fmt: skip
    if (
        not force
        and previous.get("fingerprint") == fingerprint
        and not damaged
        and "day_keys" in previous  # a cube of older code is copied once to record them
    ):
        return {**previous, "up_to_date": True, "seconds": time.perf_counter() - start}
    reader = BlockReader(region, year, products, raw, manifest, strict)
    part = part_of(out)
    shutil.rmtree(part, ignore_errors=True)
    old_shape, old_keys = previous.get("shape") or [0], previous.get("blocks")
    # the same year again, or the year in progress grown by some days: rebuild changed blocks
    # (a cube none of whose blocks still holds is written whole, its static fields with it)
    grows = old_shape[1:] == list(grid.shape) and 0 < old_shape[0] <= days
    if (
        not force
        and ALL not in damaged
        and grows
        and isinstance(old_keys, list)
        and len(old_keys) <= len(keys)
        and any(a == b for a, b in zip(old_keys, keys, strict=False))
    ):
        shutil.copytree(out, part)
        grow_time(part, days)
        todo = [
            i for i, k in enumerate(keys) if i >= len(old_keys) or old_keys[i] != k or i in damaged
        ]
    else:
        template = _template(grid, first, days, reader)
        template.to_zarr(
            part,
            mode="w",
            compute=False,
            encoding=_encoding(template),
            zarr_format=2,
            consolidated=True,
        )
        todo = list(range(len(starts)))
    if 0 in todo:  # the days before the year lead into the first block
        _write_before(part, reader)
    bands = row_bands(grid.height, grid.width)
    ticker = Ticker(progress, "cube", len(todo) * len(bands), "blocks")
    for i in todo:
        b0, n = starts[i], min(TIME_CHUNK, days - starts[i])
        for rows in bands:
            arrays = reader.block(b0, n, rows)
            block = _timed(arrays.first_day, arrays.soil_moisture, arrays.dynamic)
            block.to_zarr(part, region={"time": slice(b0, b0 + n), "y": rows, "x": slice(None)})
            del arrays, block
            give_back_memory()
            ticker.advance()
    per_day = _observed_per_day(part, previous, todo, starts)
    n_obs = sum(per_day)
    kept = retry_skipped(keys, reader.skipped, manifest, first)
    meta = {
        "region": region.name,
        "year": year,
        "shape": [days, *grid.shape],
        "observed_pixel_days": n_obs,
        "observed_per_day": per_day,
        "missing_share": 1 - n_obs / (days * grid.height * grid.width),
        "rebuilt_blocks": len(todo),
        "dropped": dict(reader.dropped),  # counts of the blocks rebuilt in this run
        "skipped_granules": reader.skipped,
        "fingerprint": hashlib.sha256("".join(kept).encode()).hexdigest(),
        "blocks": kept,
        "day_keys": day_keys(manifest, region, year, strict, kept),
        "strict": strict,
    }
    _set_attrs(part, meta)
    write_sums(part)
    swap_dir(part, out)
    meta["seconds"] = time.perf_counter() - start
    meta["bytes"] = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return meta


def _observed_per_day(
    store: Path, previous: dict[str, Any], rebuilt: list[int], starts: list[int]
) -> list[int]:
    """Observed pixels of each day, read back from what was written: the rebuilt blocks' days
    from `store`, the others from the previous build's record (all from `store` when that has
    none or the whole cube was rebuilt): a grown cube counts its new block, not the year."""
    with xr.open_zarr(store, chunks=None) as ds:  # numpy, a block's band of rows at a time
        days, obs = ds.sizes["time"], ds["observed"]
        kept = previous.get("observed_per_day") or []
        count = rebuilt if kept and len(rebuilt) < len(starts) else range(len(starts))
        per_day = kept[:days] + [0] * max(0, days - len(kept))
        bands = row_bands(ds.sizes["y"], ds.sizes["x"])
        for i in count:
            b0, b1 = starts[i], min(days, starts[i] + TIME_CHUNK)
            block = sum(
                obs.isel(time=slice(b0, b1), y=rows).values.sum(axis=(1, 2), dtype=np.int64)
                for rows in bands
            )
            per_day[b0:b1] = np.asarray(block).tolist()
    return [int(n) for n in per_day]


def open_cube(path: Path, *, dask: bool = True) -> xr.Dataset:
    """The cube store, lazily (dask chunks, or with `dask=False` xarray's own lazy indexing,
    which tasks on a dask worker use: a dask compute inside a task would hand its chunk reads
    back to the busy cluster); a clear error when it is missing or damaged."""
    if not path.exists():
        raise CubeError(
            f"no cube at {path}: run the cube stage first (make cube / python -m pipeline cube)"
        )
    try:
        if dask:
            return xr.open_zarr(path, consolidated=True)
        return xr.open_zarr(path, consolidated=True, chunks=None)
    except Exception as exc:  # zarr and xarray raise many types for a damaged store
        raise CubeError(
            f"{path} is not a readable cube ({type(exc).__name__}: {exc}); rebuild it with the cube stage --force"
        ) from exc


VARIABLE_ATTRS: dict[str, dict[str, Any]] = {
    "soil_moisture": {"units": "m3 m-3", "long_name": "surface soil moisture (SPL2SMAP_S, 1 km)", "standard_name": "volume_fraction_of_condensed_water_in_soil"},
    "observed": {"long_name": "1 where soil_moisture was retrieved and passed QC", "flag_values": np.array([0, 1], np.uint8), "flag_meanings": "missing observed"},
    "sm_9km": {"units": "m3 m-3", "long_name": "SPL3SMP_E 9 km soil moisture, AM/PM mean, interpolated bilinearly to the 1 km grid"},
    **DYNAMIC_ATTRS,
}  # fmt: skip
CF = {"grid_mapping": "spatial_ref"}


def row_bands(height: int, width: int, pixels: int = BAND_PIXELS) -> list[slice]:
    """Bands of whole chunk rows holding about `pixels` pixels each (at least one chunk row), so
    a block of the cube in memory is (32 days, band) whatever the region's size."""
    step = max(1, pixels // (width * SPACE_CHUNK)) * SPACE_CHUNK
    return [slice(r, min(r + step, height)) for r in range(0, height, step)]


def _timed(day0: date, sm: np.ndarray, dynamic: dict[str, np.ndarray]) -> xr.Dataset:
    """The (time, y, x) variables of one block, to be written into its region of the store."""
    dims = ("time", "y", "x")
    fields = {"soil_moisture": sm, "observed": np.isfinite(sm).astype(np.uint8), **dynamic}
    return xr.Dataset({name: (dims, v) for name, v in fields.items()})


def _write_before(store: Path, reader: BlockReader) -> None:
    """The lead-in variables (the rain of the days before the year) band by band, into the
    laid-out store."""
    if not len(reader.days_before):
        return
    for rows in row_bands(reader.grid.height, reader.grid.width):
        fields = reader.read_before(rows)
        xr.Dataset(
            {f"{name}{BEFORE}": (("time_before", "y", "x"), v) for name, v in fields.items()}
        ).to_zarr(store, region={"time_before": slice(None), "y": rows, "x": slice(None)})
        del fields
        give_back_memory()


def _template(grid: RegionGrid, first: date, days: int, reader: BlockReader) -> xr.Dataset:
    """The whole cube as lazy (time, y, x) arrays plus the static fields and coordinates: written
    with compute=False it lays out the store, and the blocks fill it region by region."""
    import dask.array as da

    times = np.datetime64(first, "ns") + np.arange(days) * np.timedelta64(1, "D")
    dims, shape = ("time", "y", "x"), (days, *grid.shape)
    chunks = (TIME_CHUNK, SPACE_CHUNK, SPACE_CHUNK)
    names = ["soil_moisture", "observed", "sm_9km", *reader.daymet]

    def lazy(name: str) -> xr.Variable:
        dtype = np.uint8 if name == "observed" else np.float32
        fill = 0 if name == "observed" else np.nan
        return xr.Variable(
            dims,
            da.full(shape, fill, dtype=dtype, chunks=chunks),
            {**CF, **VARIABLE_ATTRS.get(name, {})},
        )

    before = reader.days_before
    lead = {
        f"{name}{BEFORE}": xr.Variable(
            ("time_before", "y", "x"),
            da.full((len(before), *grid.shape), np.nan, dtype=np.float32,
                    chunks=(len(before), SPACE_CHUNK, SPACE_CHUNK)),
            {**CF, **VARIABLE_ATTRS.get(name, {}), "long_name": f"{VARIABLE_ATTRS.get(name, {}).get('long_name', name)}, the days before the year (from the year before's file)"},
        )
        for name in reader.before
    }  # fmt: skip
    ds = xr.Dataset(
        {
            **{name: lazy(name) for name in names},
            **lead,
            "in_region": (("y", "x"), reader.inside.astype(np.uint8), {**CF, "long_name": "1 inside the region boundary, 0 outside (no-data)", "flag_values": np.array([0, 1], np.uint8), "flag_meanings": "outside inside"}),
            **{name: (("y", "x"), v, {**CF, **attrs}) for name, (v, attrs) in reader.static.items()},
        },
        coords={
            "spatial_ref": grid_mapping(),
            "time": ("time", times),
            **({"time_before": ("time_before", before.astype("datetime64[ns]"))} if lead else {}),
            "y": ("y", grid.y, {"units": "m", "standard_name": "projection_y_coordinate", "axis": "Y"}),
            "x": ("x", grid.x, {"units": "m", "standard_name": "projection_x_coordinate", "axis": "X"}),
        },
    )  # fmt: skip
    ds.attrs.update(
        Conventions="CF-1.8",
        title="daily soil-moisture cube on the EASE-Grid 2.0 1 km grid",
        ease_row0=grid.row0,
        ease_col0=grid.col0,
    )
    return ds


def _encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    days_since = {"units": "days since 1970-01-01", "dtype": "int32"}
    return {name: days_since for name in ("time", "time_before") if name in ds.coords}


def _set_attrs(store: Path, meta: dict[str, Any]) -> None:
    import zarr

    group = zarr.open_group(store, mode="r+")
    group.attrs["build"] = json.loads(json.dumps(meta))
    zarr.consolidate_metadata(store)
