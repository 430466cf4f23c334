"""Catalogs of regions and products: TOML files loaded into frozen, validated dataclasses.

Errors name the file, the entry and the key, and say what is allowed.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import CatalogError
from pipeline.grid import RegionGrid, cell_at, lonlat_to_xy, snapped_window

CATALOGS = Path(__file__).resolve().parents[1] / "catalogs"
SOURCES = ("cmr", "https")
ROLES = ("target", "dynamic", "static")
GRIDS = ("ease2_1km", "ease2_9km", "daymet_lcc", "modis_sinusoidal", "geographic")
QC_RULES = ("bit0_clear",)
SNAPS = ("cell", "outward")


class _Entry:
    """Reads one TOML table, remembering where it came from for error messages."""

    def __init__(self, file: Path, name: str, table: Any, allowed: set[str]) -> None:
        if not isinstance(table, dict):
            raise CatalogError(f"{file}: [{name}] must be a table")
        unknown = set(table) - allowed
        if unknown:
            raise CatalogError(
                f"{file}: [{name}] has unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
            )
        self.file, self.name, self.table = file, name, table

    def where(self, key: str) -> str:
        return f"{self.file}: [{self.name}] {key}"

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.table:
            if default is ...:
                raise CatalogError(f"{self.where(key)} is required")
            return default
        value = self.table[key]
        if not isinstance(value, kind) or isinstance(value, bool) and bool not in _tuple(kind):
            raise CatalogError(f"{self.where(key)} must be {_names(kind)}; got {value!r}")
        return value

    def choice(self, key: str, allowed: tuple[str, ...], default: Any = ...) -> str:
        value = self.get(key, str, default)
        if value not in allowed:
            raise CatalogError(f"{self.where(key)} is {value!r}; allowed: {', '.join(allowed)}")
        return value

    def pair(self, key: str, n: int) -> tuple[float, ...]:
        value = self.get(key, list)
        if len(value) != n or not all(isinstance(v, int | float) for v in value):
            raise CatalogError(f"{self.where(key)} must be a list of {n} numbers; got {value!r}")
        return tuple(float(v) for v in value)


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _names(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _tuple(kind))


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CatalogError(f"catalog {path} does not exist")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path} is not valid TOML: {exc}") from exc


# -- regions ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Region:
    """A named area, its window of the EASE-Grid 2.0 1 km grid and an optional boundary."""

    name: str
    title: str
    bbox: tuple[float, float, float, float]
    snap: str
    boundary: Path | None = None

    @property
    def grid(self) -> RegionGrid:
        lon_min, lat_min, lon_max, lat_max = self.bbox
        if self.snap == "outward":
            return snapped_window(self.bbox)
        cell = cell_at((lon_min + lon_max) / 2, (lat_min + lat_max) / 2)
        return cell

    def inside(self) -> np.ndarray:
        """(H, W) bool: True for pixels whose centre lies inside the boundary (all without one)."""
        grid = self.grid
        rings = self.polygons()
        if not rings:
            return np.ones(grid.shape, dtype=bool)
        from affine import Affine
        from rasterio.features import geometry_mask

        shapes = []
        for ring in rings:
            x, y = lonlat_to_xy(ring[:, 0], ring[:, 1])
            shapes.append({"type": "Polygon", "coordinates": [np.column_stack([x, y]).tolist()]})
        return geometry_mask(
            shapes, out_shape=grid.shape, transform=Affine.from_gdal(*grid.transform), invert=True
        )

    def polygons(self) -> list[np.ndarray]:
        """Outer rings (lon, lat) of the boundary polygons; empty without a boundary."""
        if self.boundary is None:
            return []
        try:
            doc = json.loads(self.boundary.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CatalogError(
                f"region {self.name}: boundary {self.boundary} unreadable: {exc}"
            ) from exc
        feats = doc.get("features", [doc])
        rings = []
        for feat in feats:
            geom = feat.get("geometry", feat)
            polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
            rings += [np.asarray(poly[0], dtype=float) for poly in polys]
        return rings


def load_regions(path: Path | None = None) -> dict[str, Region]:
    path = path or CATALOGS / "regions.toml"
    out = {}
    for name, table in _read(path).items():
        e = _Entry(path, name, table, {"title", "bbox", "snap", "boundary"})
        bbox = e.pair("bbox", 4)
        if not (-180 <= bbox[0] < bbox[2] <= 180 and -90 <= bbox[1] < bbox[3] <= 90):
            raise CatalogError(
                f"{e.where('bbox')} must be [lon_min, lat_min, lon_max, lat_max]; got {list(bbox)}"
            )
        boundary = e.get("boundary", str, None)
        bpath = None if boundary is None else (path.parent / boundary)
        if bpath is not None and not bpath.is_file():
            raise CatalogError(f"{e.where('boundary')}: {bpath} does not exist")
        out[name] = Region(name, e.get("title", str, name), bbox, e.choice("snap", SNAPS), bpath)  # type: ignore[arg-type]
    return out


def region(name: str, path: Path | None = None) -> Region:
    regions = load_regions(path)
    if name not in regions:
        raise CatalogError(
            f"unknown region {name!r}; known: {', '.join(sorted(regions))} (add one to catalogs/regions.toml)"
        )
    return regions[name]


# -- products ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class QC:
    path: str
    rule: str


@dataclass(frozen=True)
class Variable:
    name: str
    path: str
    fill: float
    valid: tuple[float, float]
    units: str
    scale: float = 1.0
    qc: QC | None = None


@dataclass(frozen=True)
class LeadIn:
    """Days before the year that a run also reads of some variables (the rain of the weeks
    before 1 January, without which the first weeks' antecedent rain indices read dry)."""

    days: int
    variables: tuple[str, ...]

    def keeps(self, name: str, first_day: date, year: int) -> bool:
        """Whether a granule (file `name` whose data begin on `first_day`) belongs to a run of
        `year`: the year's own, and the year before's of the lead-in variables."""
        if first_day.year == year:
            return True
        return first_day.year == year - 1 and any(f"_{v}_" in name for v in self.variables)


@dataclass(frozen=True)
class Product:
    name: str
    title: str
    source: str
    role: str
    grid: str
    pattern: str
    variables: dict[str, Variable] = field(default_factory=dict)
    short_name: str | None = None
    version: str | None = None
    provider: str | None = None
    url: str | None = None
    qc: QC | None = None
    row_index: str | None = None
    col_index: str | None = None
    latitude: str | None = None
    longitude: str | None = None
    categorical: bool = False
    # granules of a year appear only after the year ends (Daymet): the year in progress goes
    # without this product rather than failing for want of it
    yearly: bool = False
    lead_in: LeadIn | None = None


_PRODUCT_KEYS = {
    "title", "source", "short_name", "version", "provider", "url", "role", "grid", "pattern",
    "variables", "qc", "row_index", "col_index", "latitude", "longitude", "categorical", "yearly",
    "lead_in",
}  # fmt: skip


_OPTIONAL_TEXT = (
    "short_name", "version", "provider", "url", "row_index", "col_index", "latitude", "longitude",
)  # fmt: skip


def _qc(e: _Entry) -> QC | None:
    table = e.get("qc", dict, None)
    if table is None:
        return None
    q = _Entry(e.file, f"{e.name}.qc", table, {"path", "rule"})
    return QC(q.get("path", str), q.choice("rule", QC_RULES))


def _lead_in(e: _Entry, variables: dict[str, Variable]) -> LeadIn | None:
    table = e.get("lead_in", dict, None)
    if table is None:
        return None
    t = _Entry(e.file, f"{e.name}.lead_in", table, {"days", "variables"})
    days, names = t.get("days", int), t.get("variables", list)
    if not 1 <= days <= 365:
        raise CatalogError(f"{t.where('days')} is {days}; give 1 to 365 days before the year")
    unknown = [v for v in names if v not in variables]
    if unknown or not names:
        raise CatalogError(
            f"{t.where('variables')}: {unknown or 'none given'}; name some of the product's "
            f"variables: {', '.join(variables)}"
        )
    return LeadIn(days, tuple(names))


def load_products(path: Path | None = None) -> dict[str, Product]:
    path = path or CATALOGS / "products.toml"
    out = {}
    for name, table in _read(path).items():
        e = _Entry(path, name, table, _PRODUCT_KEYS)
        source = e.choice("source", SOURCES)
        if source == "cmr":
            e.get("short_name", str), e.get("version", str)
        else:
            e.get("url", str)
        variables = {}
        for vname, vtable in e.get("variables", dict).items():
            v = _Entry(
                path,
                f"{name}.variables.{vname}",
                vtable,
                {"path", "fill", "valid", "units", "scale", "qc"},
            )
            lo, hi = v.pair("valid", 2)
            if lo > hi:
                raise CatalogError(f"{v.where('valid')} must be [min, max] with min <= max")
            variables[vname] = Variable(
                vname, v.get("path", str), float(v.get("fill", (int, float))), (lo, hi),
                v.get("units", str), float(v.get("scale", (int, float), 1.0)), _qc(v),
            )  # fmt: skip
        if not variables:
            raise CatalogError(f"{e.where('variables')}: a product needs at least one variable")
        optional = {k: e.get(k, str, None) for k in _OPTIONAL_TEXT}
        out[name] = Product(
            name=name,
            title=e.get("title", str, name),
            source=source,
            role=e.choice("role", ROLES),
            grid=e.choice("grid", GRIDS),
            pattern=e.get("pattern", str),
            variables=variables,
            qc=_qc(e),
            categorical=bool(e.get("categorical", bool, False)),
            yearly=bool(e.get("yearly", bool, False)),
            lead_in=_lead_in(e, variables),
            **optional,
        )
    return out


def product(name: str, path: Path | None = None) -> Product:
    products = load_products(path)
    if name not in products:
        raise CatalogError(f"unknown product {name!r}; known: {', '.join(sorted(products))}")
    return products[name]
