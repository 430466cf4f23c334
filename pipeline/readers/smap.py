"""SMAP HDF5 granules: SPL3SMP_E (9 km global daily, AM/PM) and SPL2SMAP_S (1 km scenes)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import date
from pathlib import Path

import h5py
import numpy as np

from pipeline.catalog import QC, Product, Variable
from pipeline.errors import GranuleError
from pipeline.grid import RegionGrid, rowcol_of
from pipeline.readers.decode import Decoded, decode

INDEX_FILL = 65534  # SPL2SMAP_S fill of the uint16 EASE index arrays

_DATE = re.compile(r"_(\d{8})(?:T\d{6})?_")


def granule_date(path: Path) -> date:
    """The (first) acquisition date in a SMAP file name, e.g. SMAP_L3_SM_P_E_20201203_R18290_003.h5."""
    m = _DATE.search(Path(path).name)
    if m is None:
        raise GranuleError(f"{path}: no YYYYMMDD date in the file name; is this a SMAP granule?")
    s = m.group(1)
    return date(int(s[:4]), int(s[4:6]), int(s[6:]))


def open_h5(path: Path) -> h5py.File:
    """Open an HDF5 granule read-only; a corrupt or truncated file is a GranuleError."""
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise GranuleError(
            f"{path}: not a readable HDF5 file ({exc}); it is corrupt or truncated: "
            "delete it and download again"
        ) from exc


def _dataset(f: h5py.File, path: str, granule: Path) -> h5py.Dataset:
    if path not in f:
        raise GranuleError(f"{granule}: has no {path!r}; is it the product the catalog says?")
    return f[path]


def read_l3(path: Path, product: Product, window: RegionGrid) -> dict[str, Decoded]:
    """Each variable of a global 9 km L3 granule cut to `window` (a 9 km window), decoded.

    A QC flag missing from the file (cut-down granules) is counted as `no_qc_in_file`.
    """
    with open_h5(path) as f:
        out = {}
        rows = slice(window.row0, window.row0 + window.height)
        cols = slice(window.col0, window.col0 + window.width)
        for name, var in product.variables.items():
            try:
                raw = _dataset(f, var.path, path)[rows, cols]
                flags = None
                qc = var.qc or product.qc
                if qc is not None and qc.path in f:
                    flags = f[qc.path][rows, cols]
            except OSError as exc:
                raise GranuleError(
                    f"{path}: reading {var.path} failed ({exc}); the file is damaged"
                ) from exc
            dec = decode(raw, _with_qc(var, qc), flags)
            if qc is not None and flags is None:
                dec.dropped["no_qc_in_file"] += 1
            out[name] = dec
        return out


def _with_qc(var: Variable, qc: QC | None) -> Variable:
    return var if var.qc is qc else replace(var, qc=qc)


def read_l3_lonlat(
    path: Path, product: Product, window: RegionGrid
) -> tuple[np.ndarray, np.ndarray]:
    """Latitude/longitude arrays of the window (NaN where the file has fill)."""
    if not (product.latitude and product.longitude):
        raise GranuleError(f"the catalog gives no latitude/longitude paths for {product.name}")
    with open_h5(path) as f:
        rows = slice(window.row0, window.row0 + window.height)
        cols = slice(window.col0, window.col0 + window.width)
        lat = _dataset(f, product.latitude, path)[rows, cols].astype(np.float64)
        lon = _dataset(f, product.longitude, path)[rows, cols].astype(np.float64)
    lat[lat == -9999] = np.nan
    lon[lon == -9999] = np.nan
    return lon, lat


def to_fine(values: np.ndarray, k: int) -> np.ndarray:
    """Repeat each coarse cell into its k x k fine cells (EASE 9 km -> 1 km is exact, k = 9)."""
    return np.repeat(np.repeat(values, k, axis=-2), k, axis=-1)


def smooth_fine(ringed: np.ndarray, k: int) -> np.ndarray:
    """(h + 2, w + 2) coarse cells (a window and a ring of one cell around it) -> (h k, w k) fine
    values interpolated bilinearly between coarse cell centres, so the field has no step at the
    cell edges that a model would copy into its fill.

    A fine pixel has a value only where its own coarse cell has one (the product's footprint is
    kept); neighbours without a value drop out and the weights of the others are renormalised."""
    h, w = ringed.shape[0] - 2, ringed.shape[1] - 2
    (r0, fr), (c0, fc) = _corners(h, k), _corners(w, k)
    num = np.zeros((h * k, w * k))
    den = np.zeros((h * k, w * k))
    for dr, wr in ((0, 1 - fr), (1, fr)):
        for dc, wc in ((0, 1 - fc), (1, fc)):
            v = ringed[np.ix_(r0 + dr, c0 + dc)]
            weight = wr[:, None] * wc[None, :] * np.isfinite(v)
            num += weight * np.nan_to_num(v)
            den += weight
    own = to_fine(np.isfinite(ringed[1:-1, 1:-1]), k)
    return np.where(own & (den > 0), num / np.where(den > 0, den, 1.0), np.nan).astype(np.float32)


def _corners(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of the n k fine cells along an axis: the index of the ringed coarse cell whose
    centre is at or before the fine centre, and the fraction of the way to the next one."""
    x = (np.arange(n * k) + 0.5) / k + 0.5  # fine centres, in ringed cell-centre units
    i0 = np.floor(x).astype(int)
    return i0, x - i0


def count(decoded: dict[str, Decoded]) -> Counter[str]:
    total: Counter[str] = Counter()
    for d in decoded.values():
        total.update(d.dropped)
    return total


def _indices(
    f: h5py.File, product: Product, path: Path, shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Global EASE (row, col) of every cell of a scene: from the index arrays, cross-checked
    against latitude/longitude where both exist; from latitude/longitude through pyproj where
    the indices are absent."""
    lat = lon = None
    if product.latitude in f and product.longitude in f:
        lat = f[product.latitude][:].astype(np.float64)
        lon = f[product.longitude][:].astype(np.float64)
        have = (lat != -9999) & (lon != -9999)
    if product.row_index in f and product.col_index in f:
        rows = f[product.row_index][:].astype(np.int64)
        cols = f[product.col_index][:].astype(np.int64)
        if lat is not None and lon is not None and have.any():
            r2, c2 = rowcol_of(lon[have], lat[have])
            off = (r2 != rows[have]) | (c2 != cols[have])
            if off.any():
                raise GranuleError(
                    f"{path}: EASE row/column indices disagree with latitude/longitude at "
                    f"{int(off.sum())} of {int(have.sum())} cells; the granule is inconsistent"
                )
        return rows, cols
    if lat is None or lon is None:
        raise GranuleError(
            f"{path}: neither EASE indices nor latitude/longitude to place the pixels"
        )
    rows = np.full(shape, -1, dtype=np.int64)
    cols = np.full(shape, -1, dtype=np.int64)
    rows[have], cols[have] = rowcol_of(lon[have], lat[have])
    return rows, cols


def scene_bounds(path: Path, product: Product) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1) of the global 1 km cells an SPL2SMAP_S scene holds, from its EASE
    index arrays (the whole global grid when it has none), so a reader can skip scenes that
    miss the part of a region it is building."""
    with open_h5(path) as f:
        if product.row_index in f and product.col_index in f:
            rows = f[product.row_index][:].astype(np.int64)
            cols = f[product.col_index][:].astype(np.int64)
            ok = (rows < INDEX_FILL) & (cols < INDEX_FILL)
            if ok.any():
                return (
                    int(rows[ok].min()),
                    int(rows[ok].max()) + 1,
                    int(cols[ok].min()),
                    int(cols[ok].max()) + 1,
                )
    return 0, 1 << 30, 0, 1 << 30


def read_l2(
    path: Path, product: Product, region: RegionGrid, *, part: RegionGrid | None = None
) -> Decoded:
    """An SPL2SMAP_S scene placed on the 1 km `region` grid (NaN where it has nothing), or on
    `part` of it when given (values outside the region are still counted against the region)."""
    var = next(iter(product.variables.values()))
    qc = var.qc or product.qc
    with open_h5(path) as f:
        try:
            raw = _dataset(f, var.path, path)[:]
            flags = f[qc.path][:] if qc is not None and qc.path in f else None
            rows, cols = _indices(f, product, path, raw.shape)
        except OSError as exc:
            raise GranuleError(f"{path}: reading failed ({exc}); the file is damaged") from exc
    dec = decode(raw, _with_qc(var, qc), flags)
    if qc is not None and flags is None:
        dec.dropped["no_qc_in_file"] += 1
    _, _, in_region = region.locate(rows, cols)
    dec.dropped["outside_region"] = int((np.isfinite(dec.values) & ~in_region).sum())
    target = part or region
    r, c, inside = target.locate(rows, cols)
    keep = inside & np.isfinite(dec.values)
    out = np.full(target.shape, np.nan, dtype=np.float32)
    out[r[keep], c[keep]] = dec.values[keep]
    return Decoded(out, dec.dropped)


def composite(scenes: list[Decoded]) -> Decoded:
    """Several scenes of one day: values that passed QC are averaged per pixel."""
    stack = np.stack([s.values for s in scenes])
    total: Counter[str] = Counter()
    for s in scenes:
        total.update(s.dropped)
    count = np.isfinite(stack).sum(axis=0)
    mean = np.where(count > 0, np.nansum(stack, axis=0) / np.maximum(count, 1), np.nan)
    total["overlapping_scenes"] = int((count > 1).sum())
    return Decoded(mean.astype(np.float32), total)
