"""Write SMAP granules in the real HDF5 layouts (used by the sample source and by tests).

SPL2SMAP_S: one scene per overpass day, a window of the global 1 km grid holding the
`Soil_Moisture_Retrieval_Data_1km` group (soil moisture, retrieval quality flag, EASE
row/column indices, latitude/longitude), -9999 fill, byte-string attributes.
SPL3SMP_E: global 1624 x 3856 daily arrays in AM/PM groups (PM names end in `_pm`), chunked
and compressed so the untouched ocean of fill costs nothing on disk.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import h5py
import numpy as np

from pipeline.files import replacing
from pipeline.grid import RESOLUTIONS, RegionGrid, xy_to_lonlat

FILL = -9999.0
INDEX_FILL = 65534
L2_GROUP = "Soil_Moisture_Retrieval_Data_1km"


def _attrs(
    ds: h5py.Dataset, *, units: str, long_name: str, valid: tuple[float, float], fill: float
) -> None:
    # SMAP writes its string attributes as fixed-length byte strings
    ds.attrs["units"] = np.bytes_(units)
    ds.attrs["long_name"] = np.bytes_(long_name)
    ds.attrs["valid_min"] = np.asarray(valid[0], dtype=ds.dtype)
    ds.attrs["valid_max"] = np.asarray(valid[1], dtype=ds.dtype)
    ds.attrs["_FillValue"] = np.asarray(fill, dtype=ds.dtype)


def _identify(f: h5py.File, short_name: str, version: str) -> None:
    ident = f.create_group("Metadata/DatasetIdentification")
    ident.attrs["shortName"] = np.bytes_(short_name)
    ident.attrs["VersionID"] = np.bytes_(version)


def l2_name(day: date, tile: str, counter: int, start: str = "003000") -> str:
    """An SPL2SMAP_S file name: Sentinel-1 acquisition start (day and hhmmss), the SMAP pass,
    the tile label, the release and the reissue counter."""
    stamp = day.strftime("%Y%m%d")
    return f"SMAP_L2_SM_SP_1AIWDV_{stamp}T{start}_{stamp}T124000_{tile}_R18240_{counter:03d}.h5"


def tile_name(grid: RegionGrid) -> str:
    """SMAP/Sentinel-1 tile label from the window's upper-left corner, e.g. 099W31N."""
    lon, lat = xy_to_lonlat(grid.x[0], grid.y[0])
    ew = "W" if lon < 0 else "E"
    ns = "N" if lat >= 0 else "S"
    return f"{abs(int(np.floor(float(lon)))):03d}{ew}{abs(int(np.ceil(float(lat)))):02d}{ns}"


def write_l2(
    path: Path, region: RegionGrid, soil_moisture: np.ndarray, quality_bad: np.ndarray
) -> Path:
    """One SPL2SMAP_S scene: `soil_moisture` (H, W) on `region`, NaN outside the swath; the scene
    array is the window of the global grid bounding the covered pixels."""
    covered = ~np.isnan(soil_moisture)
    rows = np.flatnonzero(covered.any(axis=1))
    cols = np.flatnonzero(covered.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    window = (slice(r0, r1), slice(c0, c1))  # cropped first: a scene is a sliver of a state
    covered = covered[window]
    sm = np.where(covered, soil_moisture[window], FILL).astype(np.float32)
    flag = np.where(quality_bad[window], 1, 0).astype(np.uint16)
    flag[~covered] = INDEX_FILL
    grow = (region.row0 + np.arange(r0, r1))[:, None] + np.zeros((1, c1 - c0), dtype=np.int64)
    gcol = (region.col0 + np.arange(c0, c1))[None, :] + np.zeros((r1 - r0, 1), dtype=np.int64)
    lon, lat = xy_to_lonlat(*np.meshgrid(region.x[c0:c1], region.y[r0:r1]))
    lat = np.where(covered, lat, FILL).astype(np.float32)
    lon = np.where(covered, lon, FILL).astype(np.float32)
    with replacing(path) as tmp, h5py.File(tmp, "w") as f:
        _identify(f, "SPL2SMAP_S", "003")
        g = f.create_group(L2_GROUP)
        ds = g.create_dataset("soil_moisture_1km", data=sm, compression="gzip")
        _attrs(
            ds, units="cm**3/cm**3", long_name="Soil moisture at 1 km", valid=(0.02, 0.5), fill=FILL
        )
        ds = g.create_dataset("retrieval_qual_flag_1km", data=flag, compression="gzip")
        ds.attrs["long_name"] = np.bytes_("Bit 0 set: retrieval is not of recommended quality")
        ds.attrs["_FillValue"] = np.uint16(INDEX_FILL)
        for name, arr in (("EASE_row_index_1km", grow), ("EASE_column_index_1km", gcol)):
            ds = g.create_dataset(name, data=arr.astype(np.uint16), compression="gzip")
            ds.attrs["_FillValue"] = np.uint16(INDEX_FILL)
        for name, arr, valid in (
            ("latitude_1km", lat, (-90.0, 90.0)),
            ("longitude_1km", lon, (-180.0, 180.0)),
        ):
            ds = g.create_dataset(name, data=arr, compression="gzip")
            _attrs(ds, units="degrees", long_name=name.replace("_1km", ""), valid=valid, fill=FILL)
    return path


def _global(
    g: h5py.Group, name: str, window: np.ndarray, dtype: type, fill: float, sl: tuple[slice, slice]
) -> h5py.Dataset:
    """A global 9 km array, chunked so that only the chunks holding `window` are stored."""
    ds = g.create_dataset(
        name,
        shape=RESOLUTIONS["9km"][1],
        dtype=dtype,
        chunks=(203, 241),
        compression="gzip",
        fillvalue=dtype(fill),
    )
    ds[sl] = window.astype(dtype)
    return ds


def l3_name(day: date, counter: int = 1) -> str:
    return f"SMAP_L3_SM_P_E_{day:%Y%m%d}_R18290_{counter:03d}.h5"


def write_l3(path: Path, window9: RegionGrid, am: np.ndarray, pm: np.ndarray) -> Path:
    """One SPL3SMP_E day: `am`/`pm` (h, w) on the 9 km `window9`, NaN = no retrieval; the rest
    of the globe is fill, which chunked storage never writes."""
    rows, cols = RESOLUTIONS["9km"][1]
    sl = (
        slice(window9.row0, window9.row0 + window9.height),
        slice(window9.col0, window9.col0 + window9.width),
    )
    lon, lat = xy_to_lonlat(*np.meshgrid(window9.x, window9.y))
    with replacing(path) as tmp, h5py.File(tmp, "w") as f:
        _identify(f, "SPL3SMP_E", "006")
        for group, suffix, values in (("AM", "", am), ("PM", "_pm", pm)):
            g = f.create_group(f"Soil_Moisture_Retrieval_Data_{group}")
            ok = ~np.isnan(values)
            ds = _global(
                g, "soil_moisture" + suffix, np.where(ok, values, FILL), np.float32, FILL, sl
            )
            _attrs(ds, units="cm**3/cm**3", long_name="Soil moisture", valid=(0.02, 0.5), fill=FILL)
            flag = np.where(ok, 0, INDEX_FILL)
            _global(g, "retrieval_qual_flag" + suffix, flag, np.uint16, INDEX_FILL, sl)
            _global(g, "latitude" + suffix, np.where(ok, lat, FILL), np.float32, FILL, sl)
            _global(g, "longitude" + suffix, np.where(ok, lon, FILL), np.float32, FILL, sl)
    return path
