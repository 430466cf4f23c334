"""Write covariate files in their products' layouts (used by the sample source and by tests).

Daymet V4 R1: one NetCDF per variable and year, `(time, y, x)` on Daymet's Lambert conformal
conic grid (1 km, metres), a `lambert_conformal_conic` grid-mapping variable, -9999 fill.
Static fields: single-band GeoTIFFs in geographic coordinates (EPSG:4326), nodata set.
Values come from fields on the region's EASE grid, sampled at each target cell's centre.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import rasterio
import xarray as xr
from affine import Affine

from pipeline.files import replacing
from pipeline.grid import RegionGrid

DAYMET_CRS = pyproj.CRS.from_proj4(
    "+proj=lcc +lat_1=25 +lat_2=60 +lat_0=42.5 +lon_0=-100 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
)
DAYMET_FILL = -9999.0


def daymet_name(variable: str, year: int) -> str:
    return f"daymet_v4_daily_na_{variable}_{year}.nc"


def _sample_ease(
    field: np.ndarray, grid: RegionGrid, lon: np.ndarray, lat: np.ndarray
) -> np.ndarray:
    """Value of `field` (..., H, W) on `grid` at the nearest grid cell to each lon/lat point
    (points beyond the grid take its edge cell: real products extend past any region)."""
    r, c = grid.clamp(*grid.rowcol_of(lon, lat))
    return field[..., r, c].astype(np.float32)


def write_daymet(
    path: Path, variable: str, units: str, field: np.ndarray, grid: RegionGrid, days: np.ndarray
) -> Path:
    """`field` (T, H, W) on the EASE `grid` -> a Daymet-layout NetCDF covering the grid."""
    to_lcc = pyproj.Transformer.from_crs("EPSG:4326", DAYMET_CRS, always_xy=True)
    to_ll = pyproj.Transformer.from_crs(DAYMET_CRS, "EPSG:4326", always_xy=True)
    lon0, lat0, lon1, lat1 = grid.lonlat_bbox()
    ex, ey = to_lcc.transform(
        np.array([lon0, lon0, lon1, lon1]), np.array([lat0, lat1, lat0, lat1])
    )
    # Daymet cell centres sit on whole kilometres + 0.5 km; pad a cell so bilinear has neighbours
    xs = np.arange(np.floor(ex.min() / 1000) - 1, np.ceil(ex.max() / 1000) + 2) * 1000.0 + 500.0
    ys = (np.arange(np.floor(ey.min() / 1000) - 1, np.ceil(ey.max() / 1000) + 2) * 1000.0 + 500.0)[
        ::-1
    ]
    xx, yy = np.meshgrid(xs, ys)
    lon, lat = to_ll.transform(xx, yy)
    values = _sample_ease(field, grid, lon, lat)
    cf = DAYMET_CRS.to_cf()
    ds = xr.Dataset(
        {
            variable: (("time", "y", "x"), np.where(np.isnan(values), DAYMET_FILL, values).astype(np.float32),
                       {"units": units, "grid_mapping": "lambert_conformal_conic", "cell_methods": "area: mean time: sum" if variable == "prcp" else "area: mean time: maximum"}),
            "lat": (("y", "x"), lat.astype(np.float32), {"units": "degrees_north", "long_name": "latitude coordinate"}),
            "lon": (("y", "x"), lon.astype(np.float32), {"units": "degrees_east", "long_name": "longitude coordinate"}),
            "lambert_conformal_conic": ((), np.int16(0), cf),
        },
        coords={
            "time": ("time", days.astype("datetime64[ns]")),
            "x": ("x", xs, {"units": "m", "standard_name": "projection_x_coordinate"}),
            "y": ("y", ys, {"units": "m", "standard_name": "projection_y_coordinate"}),
        },
        attrs={"Conventions": "CF-1.6", "source": "Daymet Software Version 4.0 (layout); values from the stimpute twin"},
    )  # fmt: skip
    enc = {variable: {"_FillValue": DAYMET_FILL, "zlib": True, "chunksizes": (1, len(ys), len(xs))}}
    with replacing(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", encoding=enc)
    return path


def nasadem_tiles(grid: RegionGrid) -> list[tuple[int, int]]:
    """(south, west) integer degrees of the 1-degree tiles that cover the grid."""
    lon0, lat0, lon1, lat1 = grid.lonlat_bbox()
    return [
        (lat, lon)
        for lat in range(int(np.floor(lat0)), int(np.floor(lat1)) + 1)
        for lon in range(int(np.floor(lon0)), int(np.floor(lon1)) + 1)
    ]


def nasadem_name(south: int, west: int) -> str:
    ns, ew = ("n" if south >= 0 else "s"), ("e" if west >= 0 else "w")
    return f"{ns}{abs(south):02d}{ew}{abs(west):03d}"


def write_nasadem(folder: Path, field: np.ndarray, grid: RegionGrid) -> list[Path]:
    """NASADEM_HGT granules: per 1-degree tile, a zip holding a 3601 x 3601 big-endian int16
    `.hgt` (1 arc-second, pixel centres on whole seconds, rows north to south). EASE-Grid 2.0 is
    cylindrical, so a cell's row depends on latitude only and its column on longitude only."""
    import zipfile

    n = 3601
    written = []
    for south, west in nasadem_tiles(grid):
        lats = south + 1 - np.arange(n) / 3600.0
        lons = west + np.arange(n) / 3600.0
        rows, _ = grid.rowcol_of(np.full(n, float(west)), lats)
        _, cols = grid.rowcol_of(lons, np.full(n, float(south)))
        r, c = grid.clamp(rows, cols)
        tile = np.round(field[r[:, None], c[None, :]]).astype(">i2")
        name = nasadem_name(south, west)
        path = folder / f"NASADEM_HGT_{name}.zip"
        with (
            replacing(path) as tmp,
            zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z,
        ):
            z.writestr(f"{name}.hgt", tile.tobytes())
        written.append(path)
    return written


def write_geotiff(
    path: Path,
    field: np.ndarray,
    grid: RegionGrid,
    *,
    nodata: float,
    dtype: str,
    step: float = 0.005,
) -> Path:
    """`field` (H, W) on the EASE `grid` -> a single-band EPSG:4326 GeoTIFF covering the grid."""
    lon0, lat0, lon1, lat1 = grid.lonlat_bbox()
    west, north = np.floor(lon0 / step) * step - step, np.ceil(lat1 / step) * step + step
    width = int(np.ceil((lon1 - west) / step)) + 2
    height = int(np.ceil((north - lat0) / step)) + 2
    lon = west + (np.arange(width) + 0.5) * step
    lat = north - (np.arange(height) + 0.5) * step
    lon2, lat2 = np.meshgrid(lon, lat)
    values = _sample_ease(field, grid, lon2, lat2)
    data = np.where(np.isnan(values), nodata, values).astype(dtype)
    profile = {
        "driver": "GTiff", "height": height, "width": width, "count": 1, "dtype": dtype, "crs": "EPSG:4326",
        "transform": Affine(step, 0, west, 0, -step, north), "nodata": nodata, "compress": "deflate",
    }  # fmt: skip
    with replacing(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
    return path
