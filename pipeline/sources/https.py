"""Products served as plain HTTPS rasters outside CMR (SoilGrids' Cloud-Optimized GeoTIFFs and
VRTs): GDAL reads only the window over the region through /vsicurl/ (HTTP range requests), and
that window is written as a local GeoTIFF in the source's own CRS."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import rasterio
from rasterio.errors import RasterioIOError
from rasterio.warp import transform_bounds
from rasterio.windows import from_bounds

from pipeline.catalog import Product, Region
from pipeline.errors import SourceError, TransferError
from pipeline.sources.base import Granule

MARGIN_DEG = 0.05  # read a little beyond the region so reprojection has neighbours at the edge


class HttpsSource:
    """One granule per variable: the product's `url` with `{variable}` filled in."""

    name = "https"

    def __init__(self) -> None:
        self._regions: dict[str, Region] = {}

    def search(
        self, product: Product, region: Region, year: int, revised_since: datetime | None = None
    ) -> list[Granule]:
        """One granule per variable (the server cannot tell what changed: always all of them)."""
        if not product.url:
            raise SourceError(
                f"{product.name} has no url in the catalog; the https source needs one"
            )
        stem = product.pattern.split("*")
        out = []
        for variable in product.variables:
            name = stem[0] + variable + (stem[1] if len(stem) > 1 else ".tif")
            self._regions[name] = region
            out.append(
                Granule(
                    product.name,
                    name,
                    product.url.format(variable=variable),
                    date(year, 1, 1),
                    name,
                    0,
                )
            )
        return out

    def fetch(self, granule: Granule, dest: Path) -> None:
        region = self._regions.get(granule.name)
        if region is None:
            raise TransferError(f"{granule.name}: fetch before search")
        lon0, lat0, lon1, lat1 = region.grid.lonlat_bbox()
        bounds = (lon0 - MARGIN_DEG, lat0 - MARGIN_DEG, lon1 + MARGIN_DEG, lat1 + MARGIN_DEG)
        try:
            with (
                rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR", GDAL_HTTP_MAX_RETRY="3"),
                rasterio.open(f"/vsicurl/{granule.url}") as src,
            ):
                left, bottom, right, top = transform_bounds("EPSG:4326", src.crs, *bounds)
                window = (
                    from_bounds(left, bottom, right, top, src.transform)
                    .round_offsets()
                    .round_lengths()
                )
                data = src.read(1, window=window, boundless=True, fill_value=src.nodata or 0)
                profile = {
                    "driver": "GTiff", "height": data.shape[0], "width": data.shape[1], "count": 1,
                    "dtype": data.dtype, "crs": src.crs, "transform": src.window_transform(window),
                    "nodata": src.nodata, "compress": "deflate",
                }  # fmt: skip
        except RasterioIOError as exc:
            raise TransferError(
                f"{granule.name}: cannot read {granule.url} ({exc}); check the network or the catalog url"
            ) from None
        with rasterio.open(dest, "w", **profile) as dst:
            dst.write(data, 1)


class BySource:
    """Routes each product to the source its catalog entry names (cmr -> `cmr`, https -> `https`)."""

    def __init__(self, cmr: Any, https: HttpsSource) -> None:
        self.name = getattr(cmr, "name", "earthdata")
        self.routes = {"cmr": cmr, "https": https}
        self._owner: dict[str, object] = {}

    def search(
        self, product: Product, region: Region, year: int, revised_since: datetime | None = None
    ) -> list[Granule]:
        source = self.routes[product.source]
        found = source.search(product, region, year, revised_since)
        for g in found:
            self._owner[g.name] = source
        return found

    def fetch(self, granule: Granule, dest: Path) -> None:
        self._owner[granule.name].fetch(granule, dest)  # type: ignore[attr-defined]
