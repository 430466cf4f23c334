"""Stage `cube`: the downloaded granules of a region-year as one daily Zarr cube on the region grid.

`cube.zarr` holds `soil_moisture` (the SPL2SMAP_S target, NaN where missing), `observed`, and
the dynamic covariates regridded exactly onto the 1 km grid (`sm_9km`: SPL3SMP_E AM/PM mean,
each 9 km cell spread over its 9 x 9 block). Dims (time, y, x), projected x/y in metres,
EPSG:6933 written as a CF grid mapping. Chunks are (32 days, 36, 36): one chunk is one tile
over a month, and a pixel's year is 12 chunks. The cube is built in 32-day blocks, so memory
grows with the region's area, not with the length of the record, and it is written to
`cube.zarr.part` and renamed when complete: a failed run leaves the previous cube untouched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import xarray as xr

from pipeline.catalog import Product, Region
from pipeline.errors import CubeError, GranuleError
from pipeline.grid import CRS, RegionGrid, factor
from pipeline.readers.decode import Decoded
from pipeline.readers.regrid import read_daymet, read_geotiff
from pipeline.readers.smap import composite, read_l2, read_l3, to_fine

log = logging.getLogger("pipeline")
CUBE_FORMAT = 2  # raise when the cube's layout or content rules change: forces rebuilds
TIME_CHUNK = 32
SPACE_CHUNK = 36


def grid_mapping() -> xr.DataArray:
    """The CF grid-mapping variable for EPSG:6933 (GDAL and rioxarray read `crs_wkt`)."""
    attrs = pyproj.CRS(CRS).to_cf()
    return xr.DataArray(np.int32(0), attrs=attrs)


def _granules_by_day(raw: Path, product: str, manifest: dict[str, Any]) -> dict[date, list[Path]]:
    out: dict[date, list[Path]] = {}
    for rec in manifest.get("granules", {}).values():
        if rec["product"] == product:
            out.setdefault(date.fromisoformat(rec["day"]), []).append(raw / rec["path"])
    return out


def _read_day(paths: list[Path], read, strict: bool, skipped: list[str]) -> list[Decoded]:
    out = []
    for path in paths:
        try:
            out.append(read(path))
        except GranuleError as exc:
            if strict:
                raise
            log.warning("skipped: %s", exc)
            skipped.append(str(path.name))
    return out


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
    first, days = date(year, 1, 1), (date(year + 1, 1, 1) - date(year, 1, 1)).days
    starts = list(range(0, days, TIME_CHUNK))
    keys = [
        _block_key(manifest, region, strict, first, b0, min(TIME_CHUNK, days - b0)) for b0 in starts
    ]
    fingerprint = hashlib.sha256("".join(keys).encode()).hexdigest()
    previous = _previous_build(out)
    if not force and previous.get("fingerprint") == fingerprint:
        return {**previous, "up_to_date": True, "seconds": time.perf_counter() - start}
    reader = _BlockReader(region, year, products, raw, manifest, strict)
    part = out.with_name(out.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    old_keys = previous.get("blocks") if previous.get("shape") == [days, *grid.shape] else None
    if not force and isinstance(old_keys, list) and len(old_keys) == len(keys):
        shutil.copytree(out, part)
        todo = [i for i, k in enumerate(keys) if old_keys[i] != k]
    else:
        todo = list(range(len(starts)))
    task = progress.add_task("cube", total=len(todo) * TIME_CHUNK) if progress else None
    for i in todo:
        b0 = starts[i]
        block = reader.block(b0, min(TIME_CHUNK, days - b0), progress, task)
        timeless = [n for n, v in block.variables.items() if "time" not in v.dims]
        if len(todo) < len(starts):  # into the copy of the existing cube, in place
            block.drop_vars(timeless).to_zarr(
                part, region={"time": slice(b0, b0 + len(block.time))}
            )
        elif b0 == 0:
            block.to_zarr(
                part, mode="w", encoding=_encoding(block), zarr_format=2, consolidated=True
            )
        else:
            block.drop_vars([n for n in timeless if n not in ("x", "y")]).to_zarr(
                part, append_dim="time", consolidated=True
            )
    with xr.open_zarr(part) as ds:
        n_obs = int(ds["observed"].sum())
    meta = {
        "region": region.name,
        "year": year,
        "shape": [days, *grid.shape],
        "observed_pixel_days": n_obs,
        "missing_share": 1 - n_obs / (days * grid.height * grid.width),
        "rebuilt_blocks": len(todo),
        "dropped": dict(reader.dropped),  # counts of the blocks rebuilt in this run
        "skipped_granules": reader.skipped,
        "fingerprint": fingerprint,
        "blocks": keys,
    }
    _set_attrs(part, meta)
    _swap(part, out)
    meta["seconds"] = time.perf_counter() - start
    meta["bytes"] = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return meta


def _swap(part: Path, out: Path) -> None:
    """Put the finished `part` where `out` was; the old cube is removed only afterwards."""
    if out.exists():
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        part.rename(out)
        shutil.rmtree(old)
    else:
        part.rename(out)


class _BlockReader:
    """Reads and regrids everything one block of days needs."""

    def __init__(
        self,
        region: Region,
        year: int,
        products: dict[str, Product],
        raw: Path,
        manifest: dict[str, Any],
        strict: bool,
    ) -> None:
        self.grid = region.grid
        self.year, self.first = year, date(year, 1, 1)
        self.products, self.strict = products, strict
        self.target = _granules_by_day(raw, "SPL2SMAP_S", manifest)
        self.coarse = _granules_by_day(raw, "SPL3SMP_E", manifest)
        if not self.target:
            raise CubeError(
                f"the manifest in {raw} lists no SPL2SMAP_S granules: nothing to build a cube of"
            )
        self.inside = region.inside()
        if not self.inside.any():
            raise CubeError(
                f"region {region.name}: no pixel centre lies inside its boundary; check the boundary file"
            )
        self.dropped: Counter[str] = Counter()
        self.skipped: list[str] = []
        self.daymet = _files_by_variable(raw, products.get("daymet"), manifest)
        self.static = _static_fields(raw, products, manifest, self.grid, self.inside, self.dropped)

    def block(self, b0: int, n: int, progress: Any = None, task: Any = None) -> xr.Dataset:
        grid, products = self.grid, self.products
        w9, k9 = grid.coarsen("9km"), factor("1km", "9km")
        sm = np.full((n, *grid.shape), np.nan, dtype=np.float32)
        sm9 = np.full((n, *grid.shape), np.nan, dtype=np.float32)
        for i in range(n):
            day = self.first + timedelta(days=b0 + i)
            scenes = _read_day(
                self.target.get(day, []),
                lambda p: read_l2(p, products["SPL2SMAP_S"], grid),
                self.strict,
                self.skipped,
            )
            if scenes:
                comp = composite(scenes)
                sm[i] = comp.values
                self.dropped.update(comp.dropped)
            if "SPL3SMP_E" in products:
                for dec in _read_day(
                    self.coarse.get(day, []),
                    lambda p: _am_pm(p, products["SPL3SMP_E"], w9),
                    self.strict,
                    self.skipped,
                ):
                    sm9[i] = to_fine(dec.values, k9)
            if progress:
                progress.advance(task)
        dynamic = {"sm_9km": sm9}
        for name, path in self.daymet.items():
            product = products["daymet"]
            stamps, dec = read_daymet(
                path, product, product.variables[name], grid, slice(b0, b0 + n)
            )
            if len(stamps) != n or stamps[0] != np.datetime64(self.first + timedelta(days=b0)):
                raise CubeError(
                    f"{path.name}: its days do not match {self.year}; download it again"
                )
            dynamic[name] = dec.values
            self.dropped.update({f"{name}_{k}": v for k, v in dec.dropped.items()})
        sm[:, ~self.inside] = np.nan  # outside the boundary is no-data, not a gap to fill
        for values in dynamic.values():
            values[:, ~self.inside] = np.nan
        return _dataset(
            grid, self.first + timedelta(days=b0), sm, dynamic, self.static, self.inside
        )


DYNAMIC_ATTRS = {
    "prcp": {
        "units": "mm day-1",
        "long_name": "Daymet daily precipitation, reprojected bilinearly",
    },
    "tmax": {
        "units": "degC",
        "long_name": "Daymet daily maximum temperature, reprojected bilinearly",
    },
    "tmin": {
        "units": "degC",
        "long_name": "Daymet daily minimum temperature, reprojected bilinearly",
    },
    "srad": {"units": "W m-2", "long_name": "Daymet shortwave radiation, reprojected bilinearly"},
    "vp": {"units": "Pa", "long_name": "Daymet water vapour pressure, reprojected bilinearly"},
}


def _files_by_variable(
    raw: Path, product: Product | None, manifest: dict[str, Any]
) -> dict[str, Path]:
    """Variable -> file of a product kept as one file per variable (Daymet, SoilGrids)."""
    if product is None:
        return {}
    files = [
        raw / r["path"]
        for r in manifest.get("granules", {}).values()
        if r["product"] == product.name
    ]
    if len(product.variables) == 1:
        return {next(iter(product.variables)): files[0]} if files else {}
    return {v: f for v in product.variables for f in files if f"_{v}_" in f.name}


def _static_fields(
    raw: Path,
    products: dict[str, Product],
    manifest: dict[str, Any],
    grid: RegionGrid,
    inside: np.ndarray,
    dropped: Counter[str],
) -> dict[str, tuple[np.ndarray, dict]]:
    """Every static product in the manifest, reprojected onto the grid (no-data outside)."""
    out = {}
    for product in products.values():
        if product.role != "static":
            continue
        for name, path in _files_by_variable(raw, product, manifest).items():
            var = product.variables[name]
            dec = read_geotiff(path, product, var, grid)
            values = np.where(inside, dec.values, np.nan).astype(np.float32)
            dropped.update({f"{name}_{k}": v for k, v in dec.dropped.items()})
            how = "mode" if product.categorical else "bilinear"
            out[name] = (
                values,
                {"units": var.units, "long_name": f"{product.title}: {name}, reprojected ({how})"},
            )
    return out


def _block_key(
    manifest: dict[str, Any], region: Region, strict: bool, first: date, b0: int, n: int
) -> str:
    """What one block of days depends on: its days' granules, every yearly or static file,
    the grid, the boundary and the settings."""
    lo, hi = first + timedelta(days=b0), first + timedelta(days=b0 + n - 1)
    records = [
        (r["name"], r.get("checksum"), r.get("size"))
        for r in manifest.get("granules", {}).values()
        if r["product"] not in ("SPL2SMAP_S", "SPL3SMP_E")
        or lo <= date.fromisoformat(r["day"]) <= hi
    ]
    basis = {
        "format": CUBE_FORMAT,
        "granules": sorted(records),
        "grid": [region.grid.row0, region.grid.col0, *region.grid.shape],
        "boundary": None
        if region.boundary is None
        else hashlib.sha256(region.boundary.read_bytes()).hexdigest(),
        "strict": strict,
        "days": [lo.isoformat(), n],
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


def _previous_build(out: Path) -> dict[str, Any]:
    """The build report stored in an existing cube ({} when there is none or it is unreadable)."""
    try:
        import zarr

        build = zarr.open_group(out, mode="r").attrs.get("build", {})
        return dict(build) if isinstance(build, dict) else {}
    except Exception:  # no cube yet, or a damaged one: either way, build
        return {}


def _am_pm(path: Path, product: Product, w9: RegionGrid) -> Decoded:
    """SPL3SMP_E AM and PM passes of a day, averaged where both exist."""
    dec = read_l3(path, product, w9)
    return composite(list(dec.values()))


def _dataset(
    grid: RegionGrid,
    day0: date,
    sm: np.ndarray,
    dynamic: dict[str, np.ndarray],
    static: dict[str, tuple[np.ndarray, dict]],
    inside: np.ndarray,
) -> xr.Dataset:
    times = np.datetime64(day0, "ns") + np.arange(len(sm)) * np.timedelta64(1, "D")
    dims = ("time", "y", "x")
    cf = {"grid_mapping": "spatial_ref"}
    ds = xr.Dataset(
        {
            "soil_moisture": (dims, sm, {**cf, "units": "m3 m-3", "long_name": "surface soil moisture (SPL2SMAP_S, 1 km)", "standard_name": "volume_fraction_of_condensed_water_in_soil"}),
            "observed": (dims, np.isfinite(sm).astype(np.uint8), {**cf, "long_name": "1 where soil_moisture was retrieved and passed QC", "flag_values": np.array([0, 1], np.uint8), "flag_meanings": "missing observed"}),
            "in_region": (("y", "x"), inside.astype(np.uint8), {**cf, "long_name": "1 inside the region boundary, 0 outside (no-data)", "flag_values": np.array([0, 1], np.uint8), "flag_meanings": "outside inside"}),
            "sm_9km": (dims, dynamic["sm_9km"], {**cf, "units": "m3 m-3", "long_name": "SPL3SMP_E 9 km soil moisture, AM/PM mean, on the 1 km grid"}),
            **{name: (dims, v, {**cf, **DYNAMIC_ATTRS.get(name, {})}) for name, v in dynamic.items() if name != "sm_9km"},
            **{name: (("y", "x"), v, {**cf, **attrs}) for name, (v, attrs) in static.items()},
        },
        coords={
            "spatial_ref": grid_mapping(),
            "time": ("time", times),
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
    chunks = (TIME_CHUNK, SPACE_CHUNK, SPACE_CHUNK)
    timed = [str(name) for name, v in ds.data_vars.items() if v.dims == ("time", "y", "x")]
    out: dict[str, dict[str, Any]] = {name: {"chunks": chunks} for name in timed}
    return out | {"time": {"units": "days since 1970-01-01", "dtype": "int32"}}


def _set_attrs(store: Path, meta: dict[str, Any]) -> None:
    import zarr

    group = zarr.open_group(store, mode="r+")
    group.attrs["build"] = json.loads(json.dumps(meta))
    zarr.consolidate_metadata(store)
