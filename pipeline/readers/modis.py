"""MODIS land products (MCD12Q1) in their real layout: HDF4-EOS grid files, one per 10-degree
sinusoidal tile (h, v), 2400 x 2400 cells of 463.3 m, the grid described by the `StructMetadata.0`
ODL text. GDAL in the rasterio wheels has no HDF4 driver, so pyhdf reads the SDS and the grid is
placed from the ODL (corners, projection, sphere radius), then reprojected onto the region grid."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj
import xarray as xr

from pipeline.catalog import Product, Variable
from pipeline.errors import GranuleError
from pipeline.grid import CRS, RegionGrid, box_edge
from pipeline.readers.decode import Decoded

SPHERE_RADIUS = 6371007.181  # the MODIS sinusoidal sphere (metres)
TILE_SIZE = 1111950.5197665  # one 10-degree tile at the equator (metres)
TILE_CELLS = 2400  # 500 m products
X_ORIGIN, Y_ORIGIN = -20015109.354, 10007554.677  # upper-left corner of tile h00v00


def sinusoidal(radius: float = SPHERE_RADIUS) -> pyproj.CRS:
    return pyproj.CRS.from_proj4(f"+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R={radius} +units=m +no_defs")


@dataclass(frozen=True)
class EosGrid:
    """What the reader needs from an HDF-EOS GridStructure."""

    name: str
    width: int
    height: int
    upper_left: tuple[float, float]
    lower_right: tuple[float, float]
    radius: float

    @property
    def transform(self) -> tuple[float, float, float, float, float, float]:
        (x0, y0), (x1, y1) = self.upper_left, self.lower_right
        return (x0, (x1 - x0) / self.width, 0.0, y0, 0.0, (y1 - y0) / self.height)


def _pair(odl: str, key: str) -> tuple[float, float]:
    m = re.search(rf"{key}=\(([-\d.eE+]+),([-\d.eE+]+)\)", odl)
    if m is None:
        raise KeyError(key)
    return float(m.group(1)), float(m.group(2))


def parse_struct_metadata(odl: str) -> EosGrid:
    """The first sinusoidal grid in an HDF-EOS `StructMetadata.0` text."""
    try:
        if "GCTP_SNSOID" not in odl:
            raise KeyError("Projection=GCTP_SNSOID")
        name = re.search(r'GridName="([^"]+)"', odl)
        xdim, ydim = (re.search(rf"\b{k}=(\d+)", odl) for k in ("XDim", "YDim"))
        params = re.search(r"ProjParams=\(([-\d.eE+]+)", odl)
        if not (name and xdim and ydim):
            raise KeyError("GridName/XDim/YDim")
        radius = float(params.group(1)) if params and float(params.group(1)) > 0 else SPHERE_RADIUS
        return EosGrid(
            name.group(1),
            int(xdim.group(1)),
            int(ydim.group(1)),
            _pair(odl, "UpperLeftPointMtrs"),
            _pair(odl, "LowerRightMtrs"),
            radius,
        )
    except KeyError as exc:
        raise GranuleError(
            f"StructMetadata.0 lacks {exc.args[0]}: not a MODIS sinusoidal grid"
        ) from exc


def tiles_covering(grid: RegionGrid) -> list[tuple[int, int]]:
    """(h, v) of the sinusoidal tiles that the region's lon/lat box touches (edges densified,
    since the sinusoidal x of a meridian depends on latitude)."""
    lon, lat = box_edge(*grid.lonlat_bbox())
    x, y = pyproj.Transformer.from_crs("EPSG:4326", sinusoidal(), always_xy=True).transform(
        lon, lat
    )
    h = np.floor((np.asarray(x) - X_ORIGIN) / TILE_SIZE).astype(int)
    v = np.floor((Y_ORIGIN - np.asarray(y)) / TILE_SIZE).astype(int)
    return sorted(
        {(hh, vv) for hh in range(h.min(), h.max() + 1) for vv in range(v.min(), v.max() + 1)}
    )


def tile_corner(h: int, v: int) -> tuple[float, float]:
    return X_ORIGIN + h * TILE_SIZE, Y_ORIGIN - v * TILE_SIZE


def read_mcd12q1(path: Path, product: Product, var: Variable, grid: RegionGrid) -> Decoded:
    """One MCD12Q1 tile's SDS `var.path` (e.g. LC_Type1) onto `grid` by mode resampling; cells
    of the region outside this tile stay NaN (the caller mosaics tiles)."""
    from pyhdf.error import HDF4Error
    from pyhdf.SD import SD, SDC

    from pipeline.readers.regrid import _onto, _valid

    try:
        sd = SD(str(path), SDC.READ)
    except HDF4Error as exc:
        raise GranuleError(
            f"{path}: not a readable HDF4 file ({exc}); delete it and download again"
        ) from exc
    try:
        attrs = sd.attributes()
        if "StructMetadata.0" not in attrs:
            raise GranuleError(f"{path}: no StructMetadata.0; not an HDF-EOS grid file")
        eos = parse_struct_metadata(attrs["StructMetadata.0"])
        if var.path not in sd.datasets():
            raise GranuleError(
                f"{path}: has no SDS {var.path!r} (it has {', '.join(sd.datasets())})"
            )
        # only the part of the tile that can reach the region is read
        x0, dx, _, y0, _, dy = eos.transform
        xs, ys = pyproj.Transformer.from_crs(CRS, sinusoidal(eos.radius), always_xy=True).transform(
            *box_edge(*grid.bounds())
        )
        c0 = int(np.clip(np.floor((np.min(xs) - x0) / dx) - 2, 0, eos.width))
        c1 = int(np.clip(np.ceil((np.max(xs) - x0) / dx) + 2, 0, eos.width))
        r0 = int(np.clip(np.floor((np.max(ys) - y0) / dy) - 2, 0, eos.height))
        r1 = int(np.clip(np.ceil((np.min(ys) - y0) / dy) + 2, 0, eos.height))
        if c1 <= c0 or r1 <= r0:
            return Decoded(np.full(grid.shape, np.nan, dtype=np.float32))
        sds = sd.select(var.path)
        raw = np.asarray(sds[r0:r1, c0:c1], dtype=np.float32)
        sds.endaccess()
    except HDF4Error as exc:
        raise GranuleError(
            f"{path}: damaged HDF4 file ({exc}); delete it and download again"
        ) from exc
    finally:
        sd.end()
    raw[raw == var.fill] = np.nan
    da = xr.DataArray(
        raw,
        dims=("y", "x"),
        coords={
            "y": y0 + (r0 + np.arange(r1 - r0) + 0.5) * dy,
            "x": x0 + (c0 + np.arange(c1 - c0) + 0.5) * dx,
        },
    ).rio.write_crs(sinusoidal(eos.radius).to_wkt())
    return _valid(_onto(da, grid, product.categorical), var)
