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
from pipeline.grid import RegionGrid
from pipeline.readers.decode import Decoded, decode

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


def count(decoded: dict[str, Decoded]) -> Counter[str]:
    total: Counter[str] = Counter()
    for d in decoded.values():
        total.update(d.dropped)
    return total
