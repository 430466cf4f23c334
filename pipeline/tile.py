"""The tile stage: cut the region into overlapping 36 x 36 km windows and index them.

Windows cover the whole region: along each axis they start every `size - overlap` pixels and
the last one shifts inward to end on the edge (the remainder is never dropped). Windows with
no land inside the boundary are skipped. `tiles.parquet` is a GeoParquet index (geometry in
EPSG:6933) that QGIS opens as a layer.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pipeline.errors import TileError
from pipeline.files import replacing
from pipeline.grid import CRS, RegionGrid
from pipeline.provenance import peak_rss_mb
from stimpute.windows import starts

WATER = 17  # IGBP class of permanent water bodies in MCD12Q1 LC_Type1
TILE_FORMAT = 1


@dataclass(frozen=True, order=True)
class Window:
    """A tile: local row/col of its upper-left pixel and its size, in region pixels."""

    row: int
    col: int
    height: int
    width: int

    @property
    def rows(self) -> slice:
        return slice(self.row, self.row + self.height)

    @property
    def cols(self) -> slice:
        return slice(self.col, self.col + self.width)


def land_mask(cube: xr.Dataset, window: Window | None = None) -> np.ndarray:
    """(H, W) True on land inside the region: in the boundary and not permanent water (of
    `window` only, when given)."""
    if window is not None:
        cube = cube.isel(y=window.rows, x=window.cols)
    land = cube["in_region"].values.astype(bool)
    if "land_cover" in cube:
        land &= cube["land_cover"].values != WATER
    return land


def check_tiling(size: int, overlap: int) -> None:
    """The tile settings every stage can work with (checked by the command line first)."""
    if size < 2 or not 0 <= overlap < size:
        raise TileError(
            f"--size {size} --overlap {overlap}: give a tile size of at least 2 pixels and an "
            "overlap from 0 to under the size"
        )


def plan(land: np.ndarray, size: int = 36, overlap: int = 4) -> list[Window]:
    """Windows of `size` pixels (smaller only where the region is) overlapping by `overlap`,
    sorted by (row, col), skipping those without land."""
    check_tiling(size, overlap)
    height, width = land.shape
    th, tw = min(size, height), min(size, width)
    out = [
        Window(r, c, th, tw)
        for r in starts(height, th, max(1, th - overlap))
        for c in starts(width, tw, max(1, tw - overlap))
        if land[r : r + th, c : c + tw].any()
    ]
    return sorted(out)


def index(
    windows: list[Window],
    grid: RegionGrid,
    land: np.ndarray,
    observed_days: np.ndarray,
    n_days: int,
):
    """A GeoDataFrame of the windows: geometry, local and global offsets, land and observed share."""
    import geopandas as gpd
    from shapely.geometry import box

    x0, dx, _, y0, _, dy = grid.transform
    rows = []
    for i, w in enumerate(windows):
        lw = land[w.rows, w.cols]
        seen = observed_days[w.rows, w.cols][lw]
        rows.append(
            {
                "tile": i,
                "row": w.row,
                "col": w.col,
                "height": w.height,
                "width": w.width,
                "ease_row": grid.row0 + w.row,
                "ease_col": grid.col0 + w.col,
                "land_fraction": float(lw.mean()),
                "observed_fraction": float(seen.sum() / max(1, lw.sum() * n_days)),
                "geometry": box(
                    x0 + w.col * dx,
                    y0 + (w.row + w.height) * dy,
                    x0 + (w.col + w.width) * dx,
                    y0 + w.row * dy,
                ),
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)


def read(path: Path) -> list[Window]:
    import geopandas as gpd

    try:
        frame = gpd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise TileError(
            f"{path}: not a readable tile index ({exc}); run the tile stage again"
        ) from exc
    return [Window(int(r.row), int(r.col), int(r.height), int(r.width)) for r in frame.itertuples()]


def cube_fingerprint(cube: xr.Dataset) -> str:
    fp = cube.attrs.get("build", {}).get("fingerprint")
    if not fp:
        raise TileError(
            "the cube has no build fingerprint: rebuild it with the cube stage (--force)"
        )
    return str(fp)


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run(folder: Path, grid: RegionGrid, *, size: int = 36, overlap: int = 4) -> dict[str, Any]:
    """Write folder/tiles.parquet for folder/cube.zarr unless it is current; return the stage record."""
    from pipeline.cube import open_cube

    start = time.perf_counter()
    cube = open_cube(folder / "cube.zarr")
    out, record_path = folder / "tiles.parquet", folder / "tiles.json"
    key = fingerprint(TILE_FORMAT, cube_fingerprint(cube), size, overlap)
    if out.exists() and record_path.exists():
        previous = json.loads(record_path.read_text())
        if previous.get("fingerprint") == key:
            return previous | {"up_to_date": True}
    land = land_mask(cube)
    if not land.any():
        raise TileError("the region has no land pixel inside its boundary: nothing to tile")
    windows = plan(land, size, overlap)
    observed_days = cube["observed"].sum("time").values
    frame = index(windows, grid, land, observed_days, cube.sizes["time"])
    with replacing(out) as tmp:
        frame.to_parquet(tmp)
    record = {
        "fingerprint": key,
        "tiles": len(windows),
        "size": size,
        "overlap": overlap,
        "land_pixels": int(land.sum()),
        "seconds": round(time.perf_counter() - start, 2),
        "peak_memory_mb": peak_rss_mb(),
    }
    with replacing(record_path) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    return record
