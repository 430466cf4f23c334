"""The export's file formats: a year as CF NetCDF, a day as a Cloud-Optimized GeoTIFF, the
days as a STAC catalog. Pure writers: each takes arrays or a dataset and a path, writes beside
the target and renames when complete; the export stage decides what to write and where it runs.
"""

from __future__ import annotations

import warnings
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.catalog import Region
from pipeline.errors import ExportError
from pipeline.files import replacing, write_text
from pipeline.fill_tasks import NO_DATA

NODATA = -9999.0
BANDS = (
    "soil_moisture (m3 m-3)",
    "soil_moisture_uncertainty (m3 m-3)",
    "flag (1 observed, 2 filled)",
)
VARIABLES = ("soil_moisture", "soil_moisture_uncertainty", "flag")


def day_bands(block: dict[str, np.ndarray], t: int) -> np.ndarray:
    """(3, H, W) float32 of day `t` of a loaded block, NODATA wherever the flag says no data."""
    sm, unc, flag = (block[n][t] for n in VARIABLES)
    out = np.stack([sm, unc, flag.astype(np.float32)])
    out[:, (flag == NO_DATA) | ~np.isfinite(sm)] = NODATA
    return out.astype(np.float32)


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
    from pystac.extensions.projection import ProjectionExtension

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
            properties={},
        )
        ProjectionExtension.ext(item, add_if_missing=True).code = crs
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
    cat.save(catalog_type=pystac.CatalogType.SELF_CONTAINED, stac_io=_unchanged_kept())
    return stac / "catalog.json"


def _unchanged_kept() -> Any:
    """pystac's file IO, except that a JSON file whose text is unchanged is not rewritten: when
    one day changes, only its item and the catalog move."""
    from pystac.stac_io import DefaultStacIO

    class UnchangedKept(DefaultStacIO):
        def write_text_to_href(self, href: str, txt: str) -> None:
            write_text(Path(href), txt)

    return UnchangedKept()


def write_vectors(out: Path, region: Region, tiles: Path, stamp: str) -> tuple[Path, Path]:
    """`tiles.gpkg` (the tile index) and `boundary.gpkg` (the region's boundary, or its grid's
    rectangle), both in EPSG:6933, for the QGIS project and for anyone's GIS. GeoPackage
    records when its content last changed: `stamp` (ISO time) is written there instead of the
    clock, so the same inputs give the same bytes."""
    import geopandas as gpd
    import pyogrio
    from shapely.geometry import Polygon, box

    from pipeline.grid import lonlat_to_xy

    frame = gpd.read_parquet(tiles)
    rings = region.polygons()
    shapes = [Polygon(np.column_stack(lonlat_to_xy(r[:, 0], r[:, 1]))) for r in rings]
    outline = gpd.GeoDataFrame(
        {"region": [region.name] * max(1, len(shapes))},
        geometry=shapes or [box(*region.grid.bounds())],
        crs="EPSG:6933",
    )
    paths = []
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": stamp})
    try:
        for name, layer in (("tiles", frame.to_crs("EPSG:6933")), ("boundary", outline)):
            path = out / f"{name}.gpkg"
            with replacing(path, keep_same=True) as tmp, warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The filename extension should be")
                layer.to_file(tmp, driver="GPKG", layer=name)
            paths.append(path)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    return paths[0], paths[1]
