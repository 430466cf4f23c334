"""What one 32-day block of the cube reads: the day's SPL2SMAP_S scenes (composited), the
SPL3SMP_E passes interpolated between 9 km cell centres, Daymet reprojected onto the grid, and the static fields;
damaged granules are skipped and listed (or raise, when strict)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property, partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from pipeline.catalog import Product, Region
from pipeline.errors import CubeError, GranuleError
from pipeline.grid import RegionGrid, factor
from pipeline.readers.decode import Decoded
from pipeline.readers.modis import read_mcd12q1
from pipeline.readers.regrid import read_daymet, read_geotiff
from pipeline.readers.smap import composite, read_l2, read_l3, scene_bounds, smooth_fine

log = logging.getLogger("pipeline")
Read = TypeVar("Read")  # what a reader makes of one file


def _granules_by_day(raw: Path, product: str, manifest: dict[str, Any]) -> dict[date, list[Path]]:
    out: dict[date, list[Path]] = {}
    for rec in manifest.get("granules", {}).values():
        if rec["product"] == product:
            out.setdefault(date.fromisoformat(rec["day"]), []).append(raw / rec["path"])
    return out


def _read_day(
    paths: list[Path],
    read: Callable[[Path], Read],
    strict: bool,
    skipped: list[str],
    keep: set[Path] | None = None,
) -> list[tuple[Path, Read]]:
    """Each readable file decoded; a damaged one raises when strict, else is skipped, and is
    logged and listed in `skipped` (only for files in `keep`, when given, so a file read for
    several bands is reported once)."""
    out = []
    for path in paths:
        try:
            out.append((path, read(path)))
        except GranuleError as exc:
            if strict:
                raise
            if keep is None or path in keep:
                log.warning("skipped: %s", exc)
                skipped.append(str(path.name))
    return out


class BlockReader:
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
        self._bounds: dict[Path, tuple[int, int, int, int]] = {}
        self.skipped: list[str] = []
        self.daymet, self.before = _daymet_files(raw, products.get("daymet"), manifest, year)
        self._raw, self._manifest = raw, manifest

    @cached_property
    def days_before(self) -> np.ndarray:
        """The calendar days before the year whose values `read_before` gives (the product's
        lead-in; none without the year before's files)."""
        lead = self.products["daymet"].lead_in if self.before else None
        n = lead.days if lead else 0
        return np.datetime64(self.first, "D") - n + np.arange(n)

    def read_before(self, rows: slice) -> dict[str, np.ndarray]:
        """(days before, band rows, W) of each lead-in variable on region rows `rows`, from the
        year before's file; a day that file lacks (Daymet leaves out 31 December of leap years)
        is NaN, which the rain indices read as no rain, and so is every day of a damaged file
        (skipped and listed, as any damaged granule; raised when strict)."""
        band, product, days = self.band(rows), self.products["daymet"], self.days_before
        out = {}
        for name, path in self.before.items():
            values = np.full((len(days), *band.shape), np.nan, np.float32)
            out[name] = values
            last_days = partial(
                read_daymet,
                product=product,
                var=product.variables[name],
                grid=band,
                days=slice(-len(days) - 1, None),
            )
            read = _read_day(
                [path],
                last_days,
                self.strict,
                self.skipped if rows.start == 0 else [],
            )
            if not read:
                continue
            stamps, dec = read[0][1]
            at = (stamps - days[0]).astype(int)
            inside = (at >= 0) & (at < len(days))
            if not inside.any():
                raise CubeError(
                    f"{path.name}: its last days ({stamps[0]} to {stamps[-1]}) are not the "
                    f"{len(days)} days before {self.year}; download it again"
                )
            values[at[inside]] = dec.values[inside]
            values[:, ~self.inside[rows]] = np.nan
        return out

    @cached_property
    def static(self) -> dict[str, tuple[np.ndarray, dict]]:
        """The static fields, read when a whole cube is written (a grown one keeps its own)."""
        return _static_fields(
            self._raw, self.products, self._manifest, self.grid, self.inside, self.dropped
        )

    def band(self, rows: slice) -> RegionGrid:
        """The grid of region rows [rows.start, rows.stop), all columns."""
        g = self.grid
        return RegionGrid(
            g.row0 + rows.start, g.col0, rows.stop - rows.start, g.width, g.resolution
        )

    def _scenes(self, day: date, band: RegionGrid) -> list[tuple[Path, bool]]:
        """The day's SPL2SMAP_S files that reach `band`, each with whether this band is the first
        of the region it reaches (its drop counts are taken there, once)."""
        product, g = self.products["SPL2SMAP_S"], self.grid
        out = []
        for path in self.target.get(day, []):
            if path not in self._bounds:
                try:
                    self._bounds[path] = scene_bounds(path, product)
                except GranuleError:
                    self._bounds[path] = (0, 1 << 30, 0, 1 << 30)  # read_l2 reports it
            r0, r1, c0, c1 = self._bounds[path]
            if r1 <= band.row0 or r0 >= band.row0 + band.height:
                continue
            if c1 <= g.col0 or c0 >= g.col0 + g.width:
                continue
            out.append((path, band.row0 <= max(r0, g.row0) < band.row0 + band.height))
        return out

    def block(self, b0: int, n: int, rows: slice | None = None) -> Block:
        """Days [b0, b0 + n) of region rows `rows` (all of them by default)."""
        rows = rows or slice(0, self.grid.height)
        band, products = self.band(rows), self.products
        ring, pads = ringed(band.coarsen("9km"))
        k9 = factor("1km", "9km")
        sm = np.full((n, *band.shape), np.nan, dtype=np.float32)
        sm9 = np.full((n, *band.shape), np.nan, dtype=np.float32)
        for i in range(n):
            day = self.first + timedelta(days=b0 + i)
            found = self._scenes(day, band)
            first = {p for p, f in found if f}
            scenes = _read_day(
                [p for p, _ in found],
                lambda p: read_l2(p, products["SPL2SMAP_S"], self.grid, part=band),
                self.strict,
                self.skipped,
                keep=first,
            )
            if scenes:
                comp = composite([d for _, d in scenes])
                sm[i] = comp.values
                self.dropped["overlapping_scenes"] += comp.dropped["overlapping_scenes"]
                for path, dec in scenes:
                    if path in first:
                        self.dropped.update(dec.dropped)
            if "SPL3SMP_E" in products:
                for _, dec in _read_day(
                    self.coarse.get(day, []),
                    lambda p: _am_pm(p, products["SPL3SMP_E"], ring),
                    self.strict,
                    self.skipped if rows.start == 0 else [],
                ):
                    sm9[i] = smooth_fine(np.pad(dec.values, pads, constant_values=np.nan), k9)
        dynamic = {"sm_9km": sm9}
        for name, paths in self.daymet.items():
            path, product = paths[0], products["daymet"]
            stamps, dec = read_daymet(
                path, product, product.variables[name], band, slice(b0, b0 + n)
            )
            if len(stamps) != n or stamps[0] != np.datetime64(self.first + timedelta(days=b0)):
                raise CubeError(
                    f"{path.name}: its days do not match {self.year}; download it again"
                )
            dynamic[name] = dec.values
            self.dropped.update({f"{name}_{k}": v for k, v in dec.dropped.items()})
        outside = ~self.inside[rows]
        sm[:, outside] = np.nan  # outside the boundary is no-data, not a gap to fill
        for values in dynamic.values():
            values[:, outside] = np.nan
        return Block(self.first + timedelta(days=b0), sm, dynamic)


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
) -> dict[str, list[Path]]:
    """Variable -> its files: all of them for a one-variable product (e.g. NASADEM's 1-degree
    tiles), else those whose name holds `_<variable>_` (Daymet, SoilGrids)."""
    if product is None:
        return {}
    files = sorted(
        raw / r["path"]
        for r in manifest.get("granules", {}).values()
        if r["product"] == product.name
    )
    if len(product.variables) == 1:
        return {next(iter(product.variables)): files} if files else {}
    out = {v: [f for f in files if f"_{v}_" in f.name] for v in product.variables}
    return {v: fs for v, fs in out.items() if fs}


def _daymet_files(
    raw: Path, product: Product | None, manifest: dict[str, Any], year: int
) -> tuple[dict[str, list[Path]], dict[str, Path]]:
    """Daymet's files of the year by variable, and the year before's file of each lead-in
    variable (the granule's first day, as the manifest records it, tells the year)."""
    first = {
        raw / r["path"]: date.fromisoformat(r["day"]) for r in manifest.get("granules", {}).values()
    }
    by_variable = _files_by_variable(raw, product, manifest)
    of_year = {v: [f for f in fs if first[f].year == year] for v, fs in by_variable.items()}
    lead = product.lead_in if product is not None else None
    before = {
        v: f
        for v, fs in by_variable.items()
        for f in fs
        if lead is not None and v in lead.variables and first[f].year == year - 1
    }
    return {v: fs for v, fs in of_year.items() if fs}, before


def _static_fields(
    raw: Path,
    products: dict[str, Product],
    manifest: dict[str, Any],
    grid: RegionGrid,
    inside: np.ndarray,
    dropped: Counter[str],
) -> dict[str, tuple[np.ndarray, dict]]:
    """Every static product in the manifest, reprojected onto the grid (no-data outside); the
    tiles of one variable are mosaicked (each fills what the earlier ones left empty)."""
    out = {}
    for product in products.values():
        if product.role != "static":
            continue
        for name, paths in _files_by_variable(raw, product, manifest).items():
            var = product.variables[name]
            mosaic = np.full(grid.shape, np.nan, dtype=np.float32)
            for path in paths:
                read = read_mcd12q1 if path.suffix.lower() == ".hdf" else read_geotiff
                dec = read(path, product, var, grid)
                mosaic = np.where(np.isnan(mosaic), dec.values, mosaic)
                dropped.update({f"{name}_{k}": v for k, v in dec.dropped.items()})
            how = "mode" if product.categorical else "bilinear"
            out[name] = (
                np.where(inside, mosaic, np.nan).astype(np.float32),
                {"units": var.units, "long_name": f"{product.title}: {name}, reprojected ({how})"},
            )
    return out


def ringed(w9: RegionGrid) -> tuple[RegionGrid, tuple[tuple[int, int], tuple[int, int]]]:
    """The 9 km window grown by one cell on each side (within the globe), and the NaN padding
    that makes it exactly one cell wider where the globe ends: the ring smooth_fine needs."""
    from pipeline.grid import RESOLUTIONS

    rows, cols = RESOLUTIONS[w9.resolution][1]
    r0, c0 = max(0, w9.row0 - 1), max(0, w9.col0 - 1)
    r1, c1 = min(rows, w9.row0 + w9.height + 1), min(cols, w9.col0 + w9.width + 1)
    grown = RegionGrid(r0, c0, r1 - r0, c1 - c0, w9.resolution)
    pads = (
        (1 - (w9.row0 - r0), 1 - (r1 - w9.row0 - w9.height)),
        (1 - (w9.col0 - c0), 1 - (c1 - w9.col0 - w9.width)),
    )
    return grown, pads


def _am_pm(path: Path, product: Product, w9: RegionGrid) -> Decoded:
    """SPL3SMP_E AM and PM passes of a day, averaged where both exist."""
    dec = read_l3(path, product, w9)
    return composite(list(dec.values()))


@dataclass
class Block:
    """The arrays of one block of days: (n, H, W) each, NaN where missing or outside."""

    first_day: date
    soil_moisture: np.ndarray
    dynamic: dict[str, np.ndarray]
