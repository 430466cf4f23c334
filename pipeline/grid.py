"""EASE-Grid 2.0 global (EPSG:6933) and region grids that are windows of it.

Every region grid is a window of the global grid at one resolution, so each pixel keeps its
global row and column, 9 km and 36 km cells map exactly onto blocks of 1 km cells, and tiles
line up with SMAP's 36 km cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pyproj import Transformer

from pipeline.errors import GridError

CRS = "EPSG:6933"
X0 = -17367530.4451615  # upper-left corner of the global grid, metres
Y0 = 7314540.8306386

# cell size (m) and global shape (rows, cols) per resolution
RESOLUTIONS: dict[str, tuple[float, tuple[int, int]]] = {
    "1km": (1000.89502334956, (14616, 34704)),
    "3km": (3002.6850700487, (4872, 11568)),
    "9km": (9008.055210146, (1624, 3856)),
    "36km": (36032.220840584, (406, 964)),
}


def cell_size(resolution: str) -> float:
    if resolution not in RESOLUTIONS:
        raise GridError(
            f"unknown EASE-Grid 2.0 resolution {resolution!r}; use one of {sorted(RESOLUTIONS)}"
        )
    return RESOLUTIONS[resolution][0]


def factor(fine: str, coarse: str) -> int:
    """How many `fine` cells span one `coarse` cell (e.g. 1km in 9km: 9)."""
    ratio = cell_size(coarse) / cell_size(fine)
    if abs(ratio - round(ratio)) > 1e-6:
        raise GridError(f"{coarse} cells are not a whole number of {fine} cells")
    return round(ratio)


_TO_EASE = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
_TO_LONLAT = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def lonlat_to_xy(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    x, y = _TO_EASE.transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def xy_to_lonlat(x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _TO_LONLAT.transform(x, y)
    return np.asarray(lon), np.asarray(lat)


def rowcol_of(
    lon: np.ndarray, lat: np.ndarray, resolution: str = "1km"
) -> tuple[np.ndarray, np.ndarray]:
    """Global (row, col) at `resolution` of the cells holding lon/lat points."""
    x, y = lonlat_to_xy(lon, lat)
    size = cell_size(resolution)
    return np.floor((Y0 - y) / size).astype(np.int64), np.floor((x - X0) / size).astype(np.int64)


def box_edge(
    a0: float, b0: float, a1: float, b1: float, n: int = 65
) -> tuple[np.ndarray, np.ndarray]:
    """Points along the edge of the box [a0, a1] x [b0, b1]: its outline once projected, where
    corners alone would miss curved sides."""
    a, b = np.linspace(a0, a1, n), np.linspace(b0, b1, n)
    return (
        np.concatenate([a, a, np.full(n, a0), np.full(n, a1)]),
        np.concatenate([np.full(n, b0), np.full(n, b1), b, b]),
    )


@dataclass(frozen=True)
class RegionGrid:
    """A window [row0, row0 + height) x [col0, col0 + width) of the global grid."""

    row0: int
    col0: int
    height: int
    width: int
    resolution: str = "1km"

    def __post_init__(self) -> None:
        rows, cols = RESOLUTIONS[self.resolution][1] if self.resolution in RESOLUTIONS else (0, 0)
        if not (self.row0 >= 0 and self.row0 + self.height <= rows):
            raise GridError(
                f"rows {self.row0}..{self.row0 + self.height} fall outside the global grid (0..{rows})"
            )
        if not (self.col0 >= 0 and self.col0 + self.width <= cols):
            raise GridError(
                f"columns {self.col0}..{self.col0 + self.width} fall outside the global grid (0..{cols})"
            )
        if self.height < 1 or self.width < 1:
            raise GridError("a region grid needs at least one row and one column")

    @property
    def size(self) -> float:
        return cell_size(self.resolution)

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @cached_property
    def x(self) -> np.ndarray:
        """Cell-centre x (m) of each column."""
        return X0 + (np.arange(self.col0, self.col0 + self.width) + 0.5) * self.size

    @cached_property
    def y(self) -> np.ndarray:
        """Cell-centre y (m) of each row, north to south."""
        return Y0 - (np.arange(self.row0, self.row0 + self.height) + 0.5) * self.size

    @property
    def transform(self) -> tuple[float, float, float, float, float, float]:
        """GDAL geotransform (x_ul, dx, 0, y_ul, 0, -dy) of the window."""
        return (
            X0 + self.col0 * self.size,
            self.size,
            0.0,
            Y0 - self.row0 * self.size,
            0.0,
            -self.size,
        )

    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in metres."""
        x_ul, dx, _, y_ul, _, dy = self.transform
        return x_ul, y_ul + dy * self.height, x_ul + dx * self.width, y_ul

    def lonlat_bbox(self) -> tuple[float, float, float, float]:
        """(lon_min, lat_min, lon_max, lat_max) enclosing the window (for catalogue searches)."""
        lon, lat = xy_to_lonlat(*box_edge(*self.bounds()))
        return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())

    def locate(
        self, rows: np.ndarray, cols: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Global (row, col) -> (local row, local col, inside) for cells of this resolution."""
        r = np.asarray(rows) - self.row0
        c = np.asarray(cols) - self.col0
        inside = (r >= 0) & (r < self.height) & (c >= 0) & (c < self.width)
        return r, c, inside

    def clamp(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Global (row, col) -> local indices, cells beyond the window taking its edge cell."""
        return (
            np.clip(np.asarray(rows) - self.row0, 0, self.height - 1),
            np.clip(np.asarray(cols) - self.col0, 0, self.width - 1),
        )

    def rowcol_of(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Global (row, col) of the cells holding lon/lat points."""
        return rowcol_of(lon, lat, self.resolution)

    def coarsen(self, resolution: str) -> RegionGrid:
        """The window of a coarser grid that covers this one (must align exactly)."""
        k = factor(self.resolution, resolution)
        if self.row0 % k or self.col0 % k or self.height % k or self.width % k:
            raise GridError(f"this {self.resolution} window does not align with {resolution} cells")
        return RegionGrid(
            self.row0 // k, self.col0 // k, self.height // k, self.width // k, resolution
        )


def snapped_window(
    bbox: tuple[float, float, float, float], *, resolution: str = "1km", align: str = "36km"
) -> RegionGrid:
    """The smallest window whose edges fall on `align` cell edges and that covers the lon/lat
    bbox (lon_min, lat_min, lon_max, lat_max)."""
    lon_min, lat_min, lon_max, lat_max = bbox
    if not (lon_min < lon_max and lat_min < lat_max):
        raise GridError(f"bbox {bbox} is empty: give (lon_min, lat_min, lon_max, lat_max)")
    k = factor(resolution, align)
    x, y = lonlat_to_xy(*box_edge(*bbox))
    big = cell_size(align)
    col_a = math.floor((x.min() - X0) / big)
    col_b = math.ceil((x.max() - X0) / big)
    row_a = math.floor((Y0 - y.max()) / big)
    row_b = math.ceil((Y0 - y.min()) / big)
    return RegionGrid(row_a * k, col_a * k, (row_b - row_a) * k, (col_b - col_a) * k, resolution)


def cell_at(lon: float, lat: float, *, resolution: str = "1km", cell: str = "36km") -> RegionGrid:
    """The window of one `cell`-sized EASE cell (e.g. one SMAP 36 km cell) holding lon/lat."""
    k = factor(resolution, cell)
    row, col = rowcol_of(np.asarray(lon), np.asarray(lat), cell)
    return RegionGrid(int(row) * k, int(col) * k, k, k, resolution)
