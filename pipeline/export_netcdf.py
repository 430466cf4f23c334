"""The year's CF-1.8 NetCDF: written whole from the filled store (`write_netcdf`), or updated on
the days a refill rewrote and the days it added (`update_netcdf`), so a night does not rewrite a
state's year. Both write beside the target and rename when complete."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pipeline.export_formats import NODATA, VARIABLES
from pipeline.files import replacing
from pipeline.fill_tasks import FILLED, NO_DATA, OBSERVED
from pipeline.refill import day_runs, refilled_days

EPOCH = np.datetime64("1970-01-01", "D")  # the file's time: int32 days since the epoch


def global_attrs(path: Path, attrs: dict[str, str]) -> dict[str, str]:
    return {
        "Conventions": "CF-1.8",
        "title": f"gap-filled daily surface soil moisture, {path.stem}",
        **attrs,
    }


def write_netcdf(
    filled: xr.Dataset,
    path: Path,
    attrs: dict[str, str],
    chunk: tuple[int, int, int] = (32, 144, 144),
) -> Path:
    """The year as CF-1.8 NetCDF, streamed: `chunk`-sized blocks (whole chunks of the filled
    store) are read and written as the file's own chunks one at a time, so memory holds a few
    chunks, not the year. Time is the file's unlimited dimension, so `update_netcdf` can add
    the days of a year in progress."""
    import dask

    ds = filled[list(VARIABLES)]
    sizes = tuple(ds.sizes[d] for d in ("time", "y", "x"))
    chunks = tuple(min(n, c) for n, c in zip(sizes, chunk, strict=True))
    ds = ds.chunk(dict(zip(("time", "y", "x"), chunks, strict=True)))
    ds.attrs = global_attrs(path, attrs)
    ds["spatial_ref"].attrs["long_name"] = "EASE-Grid 2.0 global (EPSG:6933)"
    # CF-1.8 has no unsigned types: the flag is a signed byte here (0, 1, 2 fit), its
    # flag_values of the same type
    ds["flag"] = ds["flag"].astype(np.int8)
    ds["flag"].attrs["flag_values"] = np.array([NO_DATA, OBSERVED, FILLED], np.int8)
    ds["time"].attrs.update(standard_name="time", long_name="time", axis="T")
    for name in ("soil_moisture", "soil_moisture_uncertainty"):
        dtype = ds[name].dtype
        for key in ("valid_min", "valid_max"):  # of the variable's own type (CF 2.5.1)
            if key in ds[name].attrs:
                ds[name].attrs[key] = dtype.type(ds[name].attrs[key])
    enc: dict[str, dict[str, Any]] = {
        name: {"zlib": True, "complevel": 4, "chunksizes": chunks, "_FillValue": NODATA}
        for name in ("soil_moisture", "soil_moisture_uncertainty")
    }
    enc["flag"] = {"zlib": True, "complevel": 4, "chunksizes": chunks, "_FillValue": None}
    enc["time"] = {"units": "days since 1970-01-01", "dtype": "int32"}
    enc["x"] = enc["y"] = {"_FillValue": None}  # coordinates carry no fill value (CF 2.5.1)
    # synchronous: inside a dask worker the write must not hand its blocks back to the cluster
    with replacing(path) as tmp, dask.config.set(scheduler="synchronous"):
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=enc, unlimited_dims=["time"])
    return path


def can_update(path: Path, n_time: int) -> bool:
    """Whether `update_netcdf` can bring the file at `path` to `n_time` days: it is readable,
    its time is unlimited and holds no more days than that."""
    import netCDF4

    try:
        with netCDF4.Dataset(path) as nc:
            time = nc.dimensions.get("time")
            return time is not None and time.isunlimited() and len(time) <= n_time
    except OSError:
        return False


def days_to_update(
    fill_record: dict[str, Any],
    previous: dict[str, Any],
    n_time: int,
    path: Path,
    intact: Callable[[Path], bool],
) -> tuple[int, ...] | None:
    """The steps a run writes into the NetCDF at `path`: when the fill is a refill of the very
    fill the last export (`previous`, its record) wrote, and that file can grow and is intact
    (`intact`: its bytes are the ones recorded), the refill's rewritten days (the days it adds
    are appended as well); else None, the whole year."""
    days = refilled_days(fill_record.get("refill"), previous.get("fill"))
    if days is None or not can_update(path, n_time) or not intact(path):
        return None
    return tuple(sorted(days))


def update_netcdf(
    filled: xr.Dataset, path: Path, attrs: dict[str, str], days: Iterable[int]
) -> Path:
    """The file at `path` (made by `write_netcdf`) with the steps `days` written again from
    `filled`, the steps it lacks appended, and its attributes those of now: the values a whole
    rewrite would hold, read by xarray alike, on a copy renamed over it when complete."""
    import netCDF4

    n_time = filled.sizes["time"]
    with replacing(path) as tmp:
        shutil.copyfile(path, tmp)
        with netCDF4.Dataset(tmp, "a") as nc:
            had = len(nc.dimensions["time"])
            steps = sorted({int(t) for t in days if 0 <= t < had} | set(range(had, n_time)))
            for a, b in day_runs(steps):
                block = filled.isel(time=slice(a, b + 1))
                days_since = block["time"].values.astype("datetime64[D]") - EPOCH
                nc["time"][a : b + 1] = days_since.astype(np.int32)
                for name in VARIABLES:
                    values = block[name].values
                    if name == "flag":
                        nc[name][a : b + 1] = values.astype(np.int8)
                    else:  # NaN is stored as the fill value, as xarray stores it
                        nc[name][a : b + 1] = np.where(np.isnan(values), NODATA, values)
            for key in nc.ncattrs():
                nc.delncattr(key)
            nc.setncatts(global_attrs(path, attrs))
    return path
