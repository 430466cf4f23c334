"""The offline source: the soil-moisture twin of a region and year, written as granule files in
the real product layouts and handed to the download stage like any other source.

The archive lives under `<archive>/<region>/<year>/` and is written once (a `.complete`
marker closes it); searches list its files with size and SHA-256, as CMR metadata would.
One scene is written twice, the second as a reissue with a higher counter, so the newest-
reissue rule is exercised on every run.
"""

from __future__ import annotations

import logging
import shutil
import zlib
from datetime import date, timedelta
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline.catalog import Product, Region
from pipeline.errors import GranuleError, SourceError
from pipeline.grid import RegionGrid
from pipeline.sources.base import Granule, scene_and_counter, sha256
from pipeline.sources.covariate_files import (
    daymet_name,
    write_daymet,
    write_geotiff,
    write_mcd12q1,
    write_nasadem,
)
from pipeline.sources.smap_files import l2_name, l3_name, tile_name, write_l2, write_l3

if TYPE_CHECKING:
    from stimpute.simulate import Twin

log = logging.getLogger("pipeline")

# the products the twin stands in for
WRITERS = ("SPL2SMAP_S", "SPL3SMP_E", "daymet", "elevation", "land_cover", "soil_texture")
IGBP = {"grass": 10, "crop": 12, "shrub": 7, "forest": 4}  # twin land cover -> MCD12Q1 class
REISSUE_BIAS = 0.05  # the superseded first issue of one scene is off by this much
MAX_SAMPLE_PIXELS = 300 * 300  # the twin holds ~10 float arrays of (days, H, W) in memory


def block_mean(a: np.ndarray, k: int) -> np.ndarray:
    """Mean of the finite values in each k x k block of the last two axes (NaN if none)."""
    *lead, h, w = a.shape
    blocks = a.reshape(*lead, h // k, k, w // k, k)
    ok = np.isfinite(blocks)
    count = ok.sum(axis=(-3, -1))
    total = np.where(ok, blocks, 0.0).sum(axis=(-3, -1))
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


class SampleSource:
    """Search and fetch granules of the twin; nothing leaves the machine."""

    name = "sample"

    def __init__(self, archive: Path) -> None:
        self.archive = Path(archive)

    def folder(self, region: Region, year: int) -> Path:
        return self.archive / region.name / str(year)

    def search(self, product: Product, region: Region, year: int) -> list[Granule]:
        if product.name not in WRITERS:
            raise SourceError(
                f"the sample source has no {product.name} yet (it writes {', '.join(WRITERS)}); "
                "leave it out of the run or use SOURCE=earthdata"
            )
        folder = self.ensure(region, year)
        out = []
        for path in sorted(folder.iterdir()):
            if not fnmatch(path.name, product.pattern):
                continue
            scene, counter = scene_and_counter(path.name)
            out.append(
                Granule(
                    product=product.name,
                    name=path.name,
                    url=path.resolve().as_uri(),
                    day=_day_of(path.name, year),
                    scene=scene,
                    revision=counter,
                    size=path.stat().st_size,
                    checksum=sha256(path),
                    algorithm="SHA-256",
                )
            )
        return out

    def fetch(self, granule: Granule, dest: Path) -> None:
        """Copy a file:// URL of the archive; the download stage verifies it like any other."""
        from urllib.parse import urlparse
        from urllib.request import url2pathname

        src = Path(url2pathname(urlparse(granule.url).path))
        if not src.is_file():
            raise SourceError(
                f"{granule.name}: {src} is gone from the sample archive; delete the archive to rewrite it"
            )
        shutil.copyfile(src, dest)

    def ensure(self, region: Region, year: int) -> Path:
        """Write the archive for region/year unless a complete one is there."""
        folder = self.folder(region, year)
        if (folder / ".complete").is_file():
            return folder
        folder.mkdir(parents=True, exist_ok=True)
        write_archive(folder, region, year)
        (folder / ".complete").write_text("written by pipeline.sources.sample\n")
        return folder


def _day_of(name: str, year: int) -> date:
    """SMAP names carry the day; yearly and static files count from 1 January."""
    from pipeline.readers.smap import granule_date

    try:
        return granule_date(Path(name))
    except GranuleError:
        return date(year, 1, 1)


def write_archive(folder: Path, region: Region, year: int) -> None:
    """Simulate the region-year and write its SPL2SMAP_S scenes and SPL3SMP_E days."""
    from stimpute.simulate import twin

    grid = region.grid
    if grid.height * grid.width > MAX_SAMPLE_PIXELS:
        raise SourceError(
            f"the sample source simulates {region.name} in memory, and its {grid.height} x {grid.width} "
            f"grid is over the {MAX_SAMPLE_PIXELS:,}-pixel limit: use a smaller region (txson, "
            "central_texas) or SOURCE=earthdata"
        )
    days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    seed = zlib.crc32(f"{region.name}:{year}".encode())
    log.info("sample: simulating %s %d on a %d x %d grid", region.name, year, *grid.shape)
    tw = twin(height=grid.height, width=grid.width, days=days, start=f"{year}-01-01", seed=seed)
    tile = tile_name(grid)
    reissued = False
    for t in range(days):
        day = date(year, 1, 1) + timedelta(days=t)
        covered = (tw.qc_flag[t] & 1) == 0
        if covered.any():
            sm = np.where(covered, tw.retrieval[t], np.nan)
            bad = tw.qc_flag[t] != 0
            if not reissued:  # a first issue, superseded by counter 002 below
                write_l2(folder / l2_name(day, tile, 1), grid, sm + REISSUE_BIAS, bad)
                write_l2(folder / l2_name(day, tile, 2), grid, sm, bad)
                reissued = True
            else:
                write_l2(folder / l2_name(day, tile, 1), grid, sm, bad)
        am = block_mean(tw.covariates[t, :, :, tw.covariate_names.index("sm_9km")], 9)
        write_l3(folder / l3_name(day), grid.coarsen("9km"), am, np.full_like(am, np.nan))
    write_covariates(folder, grid, year, tw)


def write_covariates(folder: Path, grid: RegionGrid, year: int, tw: Twin) -> None:
    """Daymet prcp/tmax NetCDFs and the static GeoTIFFs of the twin."""
    cov = {name: tw.covariates[..., i] for i, name in enumerate(tw.covariate_names)}
    write_daymet(
        folder / daymet_name("prcp", year), "prcp", "mm/day", cov["precipitation"], grid, tw.dates
    )
    write_daymet(
        folder / daymet_name("tmax", year), "tmax", "degrees C", cov["tmax"], grid, tw.dates
    )
    static = {name: tw.static[..., i] for i, name in enumerate(tw.static_names)}
    write_nasadem(folder, static["elevation"], grid)
    onehot = np.stack([static[f"lc_{c}"] for c in IGBP], axis=-1)
    classes = np.asarray(list(IGBP.values()), dtype=np.float32)[onehot.argmax(axis=-1)]
    write_mcd12q1(folder, classes, grid, year)
    for name in ("sand", "clay"):  # SoilGrids stores g/kg as integers
        write_geotiff(
            folder / f"soilgrids_{name}_0-5cm.tif",
            static[name] * 1000,
            grid,
            nodata=-32768,
            dtype="int16",
        )
