"""Covariates on other grids (Daymet's Lambert conformal NetCDF, geographic GeoTIFFs) decoded
and reprojected onto the region's EASE grid: bilinear for continuous fields, mode for classes.
Daymet goes through rioxarray (a cropped, time-sliced xarray); rasters are warped by GDAL
straight from the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import rasterio
import rasterio.errors
import rioxarray  # noqa: F401 - registers the .rio accessor
import xarray as xr
from affine import Affine
from rasterio.enums import Resampling
from rasterio.warp import reproject

from pipeline.catalog import Product, Variable
from pipeline.errors import GranuleError
from pipeline.grid import CRS, RegionGrid, box_edge
from pipeline.readers.decode import Decoded, decode


def _onto(da: xr.DataArray, grid: RegionGrid, categorical: bool) -> np.ndarray:
    out = da.rio.reproject(
        CRS,
        shape=grid.shape,
        transform=Affine.from_gdal(*grid.transform),
        resampling=Resampling.mode if categorical else Resampling.bilinear,
        nodata=np.nan,
    )
    return np.asarray(out.values, dtype=np.float32)


def _valid(values: np.ndarray, var: Variable) -> Decoded:
    """Values already NaN at fill: apply the valid range and the scale, counting drops."""
    return decode(np.where(np.isnan(values), var.fill, values), var)


def _covering(ds: xr.Dataset, crs: pyproj.CRS, grid: RegionGrid, pad: int = 3) -> dict[str, slice]:
    """Index slices of the file's x/y that cover `grid` with `pad` cells to spare, so a band of a
    state reads its own part of a state-wide file, not all of it."""
    to_file = pyproj.Transformer.from_crs(CRS, crs, always_xy=True)
    ex, ey = to_file.transform(*box_edge(*grid.bounds()))
    out = {}
    for dim, lo, hi in (("x", min(ex), max(ex)), ("y", min(ey), max(ey))):
        coord = ds[dim].values
        hit = np.flatnonzero((coord >= lo) & (coord <= hi))
        if hit.size == 0:  # the grid falls between cells or outside: keep the file's extent
            continue
        out[dim] = slice(max(0, int(hit.min()) - pad), int(hit.max()) + pad + 1)
    return out


def read_daymet(
    path: Path, product: Product, var: Variable, grid: RegionGrid, days: slice = slice(None)
) -> tuple[np.ndarray, Decoded]:
    """(days as datetime64[D], decoded (T, H, W)) of one Daymet variable-year file, the steps
    `days` only (so a long record is read in blocks)."""
    try:
        ds = xr.open_dataset(path, engine="netcdf4", mask_and_scale=True)
    except (OSError, ValueError) as exc:
        raise GranuleError(
            f"{path}: not a readable NetCDF file ({exc}); delete it and download again"
        ) from exc
    with ds:
        if var.path not in ds:
            raise GranuleError(f"{path}: has no variable {var.path!r}")
        mapping = ds[var.path].attrs.get("grid_mapping") or ds[var.path].encoding.get(
            "grid_mapping"
        )
        if mapping is None or mapping not in ds:
            raise GranuleError(
                f"{path}: {var.path} names no grid-mapping variable; cannot place it"
            )
        crs = pyproj.CRS.from_cf(ds[mapping].attrs)
        da = (
            ds[var.path]
            .isel(time=days)
            .isel(_covering(ds, crs, grid))
            .rio.set_spatial_dims(x_dim="x", y_dim="y")
            .rio.write_crs(crs.to_wkt())
        )
        values = _onto(da.load(), grid, categorical=False)
        stamps = ds["time"].values[days].astype("datetime64[D]")
    return stamps, _valid(values, var)


def _gdal_path(path: Path) -> str:
    """A raster inside a zip (NASADEM's .hgt) is read in place through GDAL's /vsizip/."""
    if path.suffix.lower() != ".zip":
        return str(path)
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            inner = [n for n in z.namelist() if n.lower().endswith((".hgt", ".tif", ".tiff"))]
    except (OSError, zipfile.BadZipFile) as exc:
        raise GranuleError(
            f"{path}: not a readable zip ({exc}); delete it and download again"
        ) from exc
    if not inner:
        raise GranuleError(f"{path}: the zip holds no .hgt or .tif raster")
    return f"/vsizip/{path.resolve()}/{inner[0]}"


def read_geotiff(path: Path, product: Product, var: Variable, grid: RegionGrid) -> Decoded:
    """One band of a raster reprojected onto `grid` (mode for categorical products).

    GDAL warps from the open file, reading the source in blocks, so a 1-arc-second DEM tile
    (3601 x 3601) never sits in memory whole: what a state's 168 tiles cost stays flat."""
    try:
        src = rasterio.open(_gdal_path(path))
    except rasterio.errors.RasterioIOError as exc:
        raise GranuleError(
            f"{path}: not a readable raster ({exc}); delete it and download again"
        ) from exc
    with src:
        band = int(var.path)
        if not 1 <= band <= src.count:
            raise GranuleError(
                f"{path}: has {src.count} band(s), the catalog reads band {band}; "
                "check the product's variables"
            )
        out = np.full(grid.shape, np.nan, dtype=np.float32)
        try:
            reproject(
                rasterio.band(src, band),
                out,
                dst_transform=Affine.from_gdal(*grid.transform),
                dst_crs=CRS,
                resampling=Resampling.mode if product.categorical else Resampling.bilinear,
                dst_nodata=np.nan,
            )
        except rasterio.errors.RasterioError as exc:
            raise GranuleError(
                f"{path}: its pixels cannot be read ({exc}); delete it and download again"
            ) from exc
    return _valid(out, var)
