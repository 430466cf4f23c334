"""The export stage: the filled cube as the files GIS users open.

- `<region>_<year>.nc`: CF-1.8 NetCDF (compressed, chunked, grid mapping with `crs_wkt`, x/y in
  metres, flag_values/flag_meanings, provenance attributes).
- `cog/<region>_<date>.tif` per day: Cloud-Optimized GeoTIFF (DEFLATE, internal overviews where
  the image is larger than a block, nodata, band descriptions) with `<same name>.qml` beside it.
- `stac/catalog.json`: a STAC catalog of the daily items and the NetCDF.

Every file is written beside its target and renamed when complete; `export.json` records what
was written for which fill, so a re-run writes only what is missing or out of date.
"""

from __future__ import annotations

import json
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pipeline.catalog import load_products
from pipeline.errors import ExportError
from pipeline.files import replacing
from pipeline.fill_tasks import FILLED, NO_DATA, OBSERVED
from pipeline.progress import Ticker
from pipeline.provenance import peak_rss_mb
from pipeline.qml import soil_moisture_style
from pipeline.tile import fingerprint

EXPORT_FORMAT = 1
NODATA = -9999.0
BANDS = (
    "soil_moisture (m3 m-3)",
    "soil_moisture_uncertainty (m3 m-3)",
    "flag (1 observed, 2 filled)",
)
PRODUCTS = ("SPL2SMAP_S", "SPL3SMP_E", "daymet", "elevation", "land_cover", "soil_texture")


def provenance(fill_record: dict[str, Any]) -> dict[str, str]:
    products = load_products()
    used = "; ".join(
        f"{p.short_name or p.name} {p.version}".strip()
        for name in PRODUCTS
        if (p := products.get(name))
    )
    model = fill_record["model"]
    return {
        "source": f"gap-filled with the ST-Transformer (stimpute); inputs: {used}",
        "model": model["source"],
        "model_checkpoint_sha256": model["sha256"],
        "code_version": fill_record["code_version"],
        "history": f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} exported by python -m pipeline",
        "references": "Yao, Huang, Zhu: Spatiotemporal Transformer for Imputing Sparse Data, arXiv 2312.00963",
    }


def write_netcdf(filled: xr.Dataset, path: Path, attrs: dict[str, str]) -> Path:
    ds = filled[["soil_moisture", "soil_moisture_uncertainty", "flag"]]
    ds.attrs = {
        "Conventions": "CF-1.8",
        "title": f"gap-filled daily surface soil moisture, {path.stem}",
        **attrs,
    }
    ds["spatial_ref"].attrs["long_name"] = "EASE-Grid 2.0 global (EPSG:6933)"
    ds["flag"].attrs["flag_values"] = np.array(
        [NO_DATA, OBSERVED, FILLED], np.uint8
    )  # the variable's type (CF)
    t, h, w = (ds.sizes[d] for d in ("time", "y", "x"))
    chunks = (min(t, 32), min(h, 128), min(w, 128))
    enc: dict[str, dict[str, Any]] = {
        name: {"zlib": True, "complevel": 4, "chunksizes": chunks, "_FillValue": NODATA}
        for name in ("soil_moisture", "soil_moisture_uncertainty")
    }
    enc["flag"] = {"zlib": True, "complevel": 4, "chunksizes": chunks, "_FillValue": None}
    enc["time"] = {"units": "days since 1970-01-01", "dtype": "int32"}
    with replacing(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=enc)
    return path


def day_bands(block: dict[str, np.ndarray], t: int) -> np.ndarray:
    """(3, H, W) float32 of day `t` of a loaded block, NODATA wherever the flag says no data."""
    sm, unc, flag = (block[n][t] for n in ("soil_moisture", "soil_moisture_uncertainty", "flag"))
    out = np.stack([sm, unc, flag.astype(np.float32)])
    out[:, (flag == NO_DATA) | ~np.isfinite(sm)] = NODATA
    return out.astype(np.float32)


def blocks(filled: xr.Dataset, days: int, size: int = 32):
    """(first day index, arrays of `size` days): the zarr chunks are read once each."""
    for t0 in range(0, days, size):
        sel = filled.isel(time=slice(t0, t0 + size))
        yield t0, {n: sel[n].values for n in ("soil_moisture", "soil_moisture_uncertainty", "flag")}


def write_cog(
    bands: np.ndarray,
    path: Path,
    transform: Any,
    crs: str,
    dst_crs: str | None,
    tags: dict[str, str],
) -> Path:
    """One day as a Cloud-Optimized GeoTIFF (reprojected to `dst_crs` by nearest neighbour when
    given, so observed values keep their exact numbers)."""
    import rasterio
    from rasterio.io import MemoryFile
    from rio_cogeo.cogeo import cog_translate
    from rio_cogeo.profiles import cog_profiles

    if dst_crs is not None:
        bands, transform, crs = _reproject(bands, transform, crs, dst_crs)
    profile = {
        "driver": "GTiff", "count": bands.shape[0], "height": bands.shape[1], "width": bands.shape[2],
        "dtype": "float32", "crs": crs, "transform": transform, "nodata": NODATA,
    }  # fmt: skip
    # 256-pixel blocks for state-size images; small regions get 16-pixel blocks so that they
    # still carry internal overviews (GDAL builds levels down to one block)
    block = 256 if max(bands.shape[1:]) >= 512 else 16
    out_profile = cog_profiles.get("deflate") | {
        "blockxsize": block,
        "blockysize": block,
        "predictor": 3,
    }
    with MemoryFile() as mem:
        with mem.open(**profile) as src:
            src.write(bands)
            for i, d in enumerate(BANDS, start=1):
                src.set_band_description(i, d)
            src.update_tags(**tags)
        with mem.open() as src, replacing(path) as tmp:
            cog_translate(
                src,
                str(tmp),
                out_profile,
                quiet=True,
                overview_resampling="nearest",
                in_memory=True,
            )
    with rasterio.open(path) as check:
        if check.crs is None:
            raise ExportError(f"{path}: written without a CRS")
    return path


def _reproject(
    bands: np.ndarray, transform: Any, crs: str, dst_crs: str
) -> tuple[np.ndarray, Any, str]:
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    _, h, w = bands.shape
    left, top = transform.c, transform.f
    right, bottom = left + w * transform.a, top + h * transform.e
    dst_t, dw, dh = calculate_default_transform(
        crs, dst_crs, w, h, left=left, bottom=bottom, right=right, top=top
    )
    out = np.full((bands.shape[0], dh, dw), NODATA, dtype=np.float32)
    reproject(bands, out, src_transform=transform, src_crs=crs, dst_transform=dst_t, dst_crs=dst_crs,
              src_nodata=NODATA, dst_nodata=NODATA, resampling=Resampling.nearest)  # fmt: skip
    return out, dst_t, dst_crs


def write_stac(
    folder: Path,
    region: str,
    year: int,
    items: list[tuple[str, Path]],
    netcdf: Path,
    bbox: list[float],
    crs: str,
) -> Path:
    """A self-contained STAC catalog: one item per day (COG + style) and one for the NetCDF."""
    from datetime import datetime

    import pystac

    lon0, lat0, lon1, lat1 = bbox
    geometry = {
        "type": "Polygon",
        "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]],
    }
    cat = pystac.Catalog(
        id=f"{region}-{year}", description=f"Gap-filled daily 1 km soil moisture, {region} {year}"
    )
    for day, tif in items:
        when = datetime.fromisoformat(day).replace(tzinfo=UTC)
        item = pystac.Item(
            id=f"{region}-{day}",
            geometry=geometry,
            bbox=bbox,
            datetime=when,
            properties={"proj:code": crs},
        )
        item.add_asset(
            "data",
            pystac.Asset(
                str(tif.resolve()),
                media_type=pystac.MediaType.COG,
                roles=["data"],
                title="soil moisture, uncertainty, flag",
            ),
        )
        item.add_asset(
            "style",
            pystac.Asset(
                str(tif.with_suffix(".qml").resolve()),
                media_type="application/xml",
                roles=["style"],
                title="QGIS style",
            ),
        )
        cat.add_item(item)
    start = datetime(year, 1, 1, tzinfo=UTC)
    nc = pystac.Item(id=f"{region}-{year}-netcdf", geometry=geometry, bbox=bbox, datetime=None,
                     properties={"start_datetime": start.isoformat(), "end_datetime": datetime(year, 12, 31, tzinfo=UTC).isoformat()})  # fmt: skip
    nc.add_asset(
        "data",
        pystac.Asset(
            str(netcdf.resolve()),
            media_type="application/netcdf",
            roles=["data"],
            title="CF-1.8 NetCDF of the year",
        ),
    )
    cat.add_item(nc)
    stac = folder / "stac"
    cat.normalize_hrefs(str(stac))
    cat.make_all_asset_hrefs_relative()
    cat.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return stac / "catalog.json"


def run(
    folder: Path,
    region: str,
    year: int,
    *,
    crs: str | None = None,
    lonlat_bbox: list[float],
    progress: Any = None,
) -> dict[str, Any]:
    """Write folder/export/ from folder/filled.zarr; only what is missing or stale."""
    start = time.perf_counter()
    fill_path = folder / "fill.json"
    if not (folder / "filled.zarr").exists() or not fill_path.exists():
        raise ExportError(f"no filled cube in {folder}: run the fill stage first")
    fill_record = json.loads(fill_path.read_text())
    try:
        filled = xr.open_zarr(folder / "filled.zarr", consolidated=True)
    except Exception as exc:
        raise ExportError(
            f"{folder / 'filled.zarr'} is not readable ({exc}); run the fill stage with --force"
        ) from exc
    out = folder / "export"
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / "export.json"
    key = fingerprint(EXPORT_FORMAT, fill_record["fingerprint"], crs)
    previous = json.loads(record_path.read_text()) if record_path.exists() else {}
    current = previous.get("fingerprint") == key
    attrs = provenance(fill_record)
    written: list[str] = []

    def stale(path: Path) -> bool:
        return not current or not path.exists()

    netcdf = out / f"{region}_{year}.nc"
    if stale(netcdf):
        written.append(str(write_netcdf(filled, netcdf, attrs).relative_to(out)))
    import rioxarray  # noqa: F401 - the .rio accessor reads the grid mapping

    transform = filled.rio.write_crs(filled["spatial_ref"].attrs["crs_wkt"]).rio.transform()
    src_crs = "EPSG:6933"
    days = [str(d)[:10] for d in filled["time"].values]
    cog_dir = out / ("cog" if crs is None else f"cog-{crs.replace(':', '').lower()}")
    cog_dir.mkdir(exist_ok=True)
    style = soil_moisture_style()
    ticker = Ticker(progress, "export", len(days), "days")
    tifs = [(day, cog_dir / f"{region}_{day}.tif") for day in days]
    for t0, block in blocks(filled, len(days)):
        for t in range(len(block["flag"])):
            day, tif = tifs[t0 + t]
            if stale(tif):
                write_cog(day_bands(block, t), tif, transform, src_crs, crs, {"date": day, **attrs})
                written.append(str(tif.relative_to(out)))
            qml = tif.with_suffix(".qml")
            if stale(qml):
                with replacing(qml) as tmp:
                    tmp.write_text(style)
                written.append(str(qml.relative_to(out)))
            ticker.advance()
    catalog = out / "stac" / "catalog.json"
    if written or stale(catalog):
        write_stac(out, region, year, tifs, netcdf, lonlat_bbox, crs or src_crs)
    if not written and current:
        return previous | {"written": 0}
    record = {
        "fingerprint": key,
        "crs": crs or src_crs,
        "netcdf": netcdf.name,
        "cogs": len(tifs),
        "stac": str(catalog.relative_to(out)),
        "written": len(written),
        "seconds": round(time.perf_counter() - start, 1),
        "peak_memory_mb": peak_rss_mb(),
        "flags": {"observed": OBSERVED, "filled": FILLED, "no_data": NO_DATA},
    }
    with replacing(record_path) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    return record
