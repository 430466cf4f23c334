"""Write covariate files in their products' layouts (used by the sample source and by tests).

Daymet V4 R1: one NetCDF per variable and year, `(time, y, x)` on Daymet's Lambert conformal
conic grid (1 km, metres), a `lambert_conformal_conic` grid-mapping variable, -9999 fill.
Static fields: single-band GeoTIFFs in geographic coordinates (EPSG:4326), nodata set.
Values come from fields on the region's EASE grid, sampled at each target cell's centre.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import rasterio
from affine import Affine
from rasterio.windows import Window

from pipeline.files import replacing
from pipeline.grid import RegionGrid, box_edge

DAYMET_CRS = pyproj.CRS.from_proj4(
    "+proj=lcc +lat_1=25 +lat_2=60 +lat_0=42.5 +lon_0=-100 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
)
DAYMET_FILL = -9999.0
# a day is stored in square chunks, so a reader that builds a region a band of rows at a time
# decompresses about its band, not the whole day once per band
DAYMET_CHUNK = 128


def daymet_name(variable: str, year: int) -> str:
    return f"daymet_v4_daily_na_{variable}_{year}.nc"


BAND_ROWS = 256  # target rows geolocated at a time, so temporaries follow the band, not the area


def _nearest(grid: RegionGrid, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Flat index into `grid` (H * W) of the nearest grid cell to each lon/lat point (points
    beyond the grid take its edge cell: real products extend past any region)."""
    r, c = grid.clamp(*grid.rowcol_of(lon, lat))
    return (r * grid.width + c).astype(np.int32)


def _sample_ease(
    field: np.ndarray, grid: RegionGrid, lon: np.ndarray, lat: np.ndarray
) -> np.ndarray:
    """Value of `field` (H, W) on `grid` at the nearest grid cell to each lon/lat point."""
    return field.reshape(-1)[_nearest(grid, lon, lat)].astype(np.float32)


def _bands(n: int) -> list[slice]:
    return [slice(r, min(n, r + BAND_ROWS)) for r in range(0, n, BAND_ROWS)]


class DaymetWriter:
    """A Daymet-layout NetCDF covering an EASE `grid`, written one day at a time, so a state's
    year never sits in memory. Use as a context manager; the file appears complete or not at all.

    Values come from fields on `grid`, sampled at each Daymet cell's centre (nearest cell)."""

    def __init__(
        self, path: Path, variable: str, units: str, grid: RegionGrid, days: np.ndarray
    ) -> None:
        self.path, self.variable, self.units, self.grid = path, variable, units, grid
        self.days = np.asarray(days).astype("datetime64[D]")
        to_lcc = pyproj.Transformer.from_crs("EPSG:4326", DAYMET_CRS, always_xy=True)
        to_ll = pyproj.Transformer.from_crs(DAYMET_CRS, "EPSG:4326", always_xy=True)
        ex, ey = to_lcc.transform(*box_edge(*grid.lonlat_bbox()))
        # Daymet cell centres sit on whole kilometres + 0.5 km; pad a cell so bilinear has neighbours
        self.xs = (
            np.arange(np.floor(min(ex) / 1000) - 1, np.ceil(max(ex) / 1000) + 2) * 1000.0 + 500.0
        )
        self.ys = (
            np.arange(np.floor(min(ey) / 1000) - 1, np.ceil(max(ey) / 1000) + 2) * 1000.0 + 500.0
        )[::-1]
        self._to_ll = to_ll
        self.index = np.empty((len(self.ys), len(self.xs)), np.int32)  # nearest grid cell
        for b in _bands(len(self.ys)):
            self.index[b] = _nearest(grid, *self._lonlat(b))

    def _lonlat(self, rows: slice) -> tuple[np.ndarray, np.ndarray]:
        """lon, lat of the Daymet cell centres on `rows` of the file's grid."""
        xx, yy = np.meshgrid(self.xs, self.ys[rows])
        lon, lat = self._to_ll.transform(xx, yy)
        return np.asarray(lon), np.asarray(lat)

    def __enter__(self) -> DaymetWriter:
        import netCDF4

        self._replacing = replacing(self.path)
        tmp = self._replacing.__enter__()
        nc = netCDF4.Dataset(tmp, "w", format="NETCDF4")
        nc.setncatts(
            {
                "Conventions": "CF-1.6",
                "source": "Daymet Software Version 4.0 (layout); values from the stimpute twin",
            }
        )
        nc.createDimension("time", len(self.days))
        nc.createDimension("y", len(self.ys))
        nc.createDimension("x", len(self.xs))
        first = str(self.days[0]) if len(self.days) else "1970-01-01"
        t = nc.createVariable("time", "i4", ("time",))
        t.setncatts({"units": f"days since {first}", "calendar": "proleptic_gregorian"})
        t[:] = (self.days - self.days[0]).astype(int) if len(self.days) else []
        for name, values, attrs in (
            ("x", self.xs, {"units": "m", "standard_name": "projection_x_coordinate"}),
            ("y", self.ys, {"units": "m", "standard_name": "projection_y_coordinate"}),
        ):
            v = nc.createVariable(name, "f8", (name,))
            v.setncatts(attrs)
            v[:] = values
        lat = nc.createVariable("lat", "f4", ("y", "x"), zlib=True)
        lat.setncatts({"units": "degrees_north", "long_name": "latitude coordinate"})
        lon = nc.createVariable("lon", "f4", ("y", "x"), zlib=True)
        lon.setncatts({"units": "degrees_east", "long_name": "longitude coordinate"})
        for b in _bands(len(self.ys)):
            lon[b], lat[b] = (a.astype(np.float32) for a in self._lonlat(b))
        crs = nc.createVariable("lambert_conformal_conic", "i2", ())
        crs.setncatts(DAYMET_CRS.to_cf())
        var = nc.createVariable(
            self.variable, "f4", ("time", "y", "x"), zlib=True,
            chunksizes=(1, min(DAYMET_CHUNK, len(self.ys)), min(DAYMET_CHUNK, len(self.xs))),
            fill_value=DAYMET_FILL,
        )  # fmt: skip
        # each day is written whole, so no chunk is read back: a small cache, not netCDF's 64 MB
        var.set_var_chunk_cache(size=4 << 20)
        method = "time: sum" if self.variable == "prcp" else "time: maximum"
        var.setncatts(
            {
                "units": self.units,
                "grid_mapping": "lambert_conformal_conic",
                "cell_methods": f"area: mean {method}",
            }
        )
        self.nc, self.var = nc, var
        return self

    def write(self, t: int, field: np.ndarray) -> None:
        """Day `t` (index into `days`) from `field` (H, W) on the grid."""
        values = field.reshape(-1)[self.index].astype(np.float32)
        self.var[t] = np.where(np.isnan(values), DAYMET_FILL, values)

    def __exit__(self, *exc: Any) -> None:
        self.nc.close()
        self._replacing.__exit__(*exc)


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
        tile = np.empty((n, n), ">i2")
        for b in _bands(n):
            tile[b] = np.round(field[r[b, None], c[None, :]])
        name = nasadem_name(south, west)
        path = folder / f"NASADEM_HGT_{name}.zip"
        member = zipfile.ZipInfo(f"{name}.hgt", date_time=(2000, 2, 11, 0, 0, 0))  # SRTM's date
        with (
            replacing(path) as tmp,
            zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z,
        ):
            z.writestr(member, tile.tobytes(), compress_type=zipfile.ZIP_DEFLATED)
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
    profile = {
        "driver": "GTiff", "height": height, "width": width, "count": 1, "dtype": dtype, "crs": "EPSG:4326",
        "transform": Affine(step, 0, west, 0, -step, north), "nodata": nodata, "compress": "deflate",
    }  # fmt: skip
    with replacing(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        for b in _bands(height):
            values = _sample_ease(field, grid, *np.meshgrid(lon, lat[b]))
            data = np.where(np.isnan(values), nodata, values).astype(dtype)
            window = Window(0, b.start, width, b.stop - b.start)
            dst.write(data, 1, window=window)
    return path


MCD12Q1_ODL = """GROUP=SwathStructure
END_GROUP=SwathStructure
GROUP=GridStructure
\tGROUP=GRID_1
\t\tGridName="MCD12Q1"
\t\tXDim={n}
\t\tYDim={n}
\t\tUpperLeftPointMtrs=({x0:.6f},{y0:.6f})
\t\tLowerRightMtrs=({x1:.6f},{y1:.6f})
\t\tProjection=GCTP_SNSOID
\t\tProjParams=({r:.6f},0,0,0,0,0,0,0,0,0,0,0,0)
\t\tSphereCode=-1
\t\tGridOrigin=HDFE_GD_UL
\t\tGROUP=DataField
\t\t\tOBJECT=DataField_1
\t\t\t\tDataFieldName="LC_Type1"
\t\t\t\tDataType=DFNT_UINT8
\t\t\t\tDimList=("YDim","XDim")
\t\t\t\tCompressionType=HDFE_COMP_DEFLATE
\t\t\t\tDeflateLevel=9
\t\t\tEND_OBJECT=DataField_1
\t\tEND_GROUP=DataField
\tEND_GROUP=GRID_1
END_GROUP=GridStructure
GROUP=PointStructure
END_GROUP=PointStructure
END
"""


def mcd12q1_name(year: int, h: int, v: int) -> str:
    return f"MCD12Q1.A{year}001.h{h:02d}v{v:02d}.061.{year + 1}243135548.hdf"


def write_mcd12q1(folder: Path, classes: np.ndarray, grid: RegionGrid, year: int) -> list[Path]:
    """MCD12Q1 granules: per sinusoidal tile touching the grid, an HDF4-EOS file with a
    2400 x 2400 uint8 `LC_Type1` SDS (IGBP classes, 255 fill) and its `StructMetadata.0`. Cells
    near the region take the class of the nearest grid cell; the rest of the tile is fill."""
    from pyhdf.SD import SD, SDC

    from pipeline.readers.modis import (
        SPHERE_RADIUS,
        TILE_CELLS,
        TILE_SIZE,
        sinusoidal,
        tile_corner,
        tiles_covering,
    )

    to_ll = pyproj.Transformer.from_crs(sinusoidal(), "EPSG:4326", always_xy=True)
    to_sin = pyproj.Transformer.from_crs("EPSG:4326", sinusoidal(), always_xy=True)
    lon0, lat0, lon1, lat1 = grid.lonlat_bbox()
    bx, by = to_sin.transform(*box_edge(lon0 - 0.02, lat0 - 0.02, lon1 + 0.02, lat1 + 0.02))
    cell = TILE_SIZE / TILE_CELLS
    written = []
    for h, v in tiles_covering(grid):
        x0, y0 = tile_corner(h, v)
        c = np.clip(np.floor((np.array([min(bx), max(bx)]) - x0) / cell).astype(int), 0, TILE_CELLS)
        r = np.clip(np.floor((y0 - np.array([max(by), min(by)])) / cell).astype(int), 0, TILE_CELLS)
        data = np.full((TILE_CELLS, TILE_CELLS), 255, dtype=np.uint8)
        xs = x0 + (np.arange(c[0], c[1]) + 0.5) * cell
        for b in _bands(max(0, r[1] - r[0]) if c[1] > c[0] else 0):
            rows = np.arange(r[0] + b.start, r[0] + b.stop)
            lon, lat = to_ll.transform(*np.meshgrid(xs, y0 - (rows + 0.5) * cell))
            vals = _sample_ease(classes, grid, np.asarray(lon), np.asarray(lat))
            data[rows[0] : rows[-1] + 1, c[0] : c[1]] = np.where(np.isnan(vals), 255, vals).astype(
                np.uint8
            )
        path = folder / mcd12q1_name(year, h, v)
        with replacing(path) as tmp:
            sd = SD(str(tmp), SDC.WRITE | SDC.CREATE)
            sds = sd.create("LC_Type1", SDC.UINT8, data.shape)
            sds.dim(0).setname("YDim:MCD12Q1")
            sds.dim(1).setname("XDim:MCD12Q1")
            sds.setfillvalue(255)
            sds.setcompress(SDC.COMP_DEFLATE, 6)
            sds[:] = data
            sds.long_name = "Land_Cover_Type_1: Annual International Geosphere-Biosphere Programme (IGBP) classification"
            sds.units = "class number"
            sds.valid_range = [1, 17]
            sds.endaccess()
            odl = MCD12Q1_ODL.format(
                n=TILE_CELLS, x0=x0, y0=y0, x1=x0 + TILE_SIZE, y1=y0 - TILE_SIZE, r=SPHERE_RADIUS
            )
            setattr(sd, "StructMetadata.0", odl)
            sd.end()
        written.append(path)
    return written
