"""The offline source: the soil-moisture twin of a region and year, written as granule files in
the real product layouts and handed to the download stage like any other source.

The twin is `stimpute.field_twin`: every value depends on the pixel's global EASE-Grid 2.0 row and
column, the day and a seed per year, so a region cut out of a larger one holds the same data and
any region, Texas included, is generated a day at a time in memory that follows one day of it.
SPL2SMAP_S comes as real scenes do: each day's acquisitions are orbit tracks, cut along track
into overlapping scenes that are windows of the global grid (the part inside the region is
written). The archive lives under `<archive>/<region>/<year>/` and is written once (a
`.complete` marker closes it); searches list its files with size and SHA-256, as CMR metadata
would. The year's first scene is written twice, the second as a reissue with a higher counter,
so the newest-reissue rule is exercised on every run.
"""

from __future__ import annotations

import logging
import re
import shutil
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.catalog import Product, Region
from pipeline.errors import GranuleError, SourceError
from pipeline.grid import RegionGrid
from pipeline.progress import Ticker
from pipeline.sources.base import Granule, scene_and_counter, sha256
from pipeline.sources.covariate_files import (
    DaymetWriter,
    daymet_name,
    write_geotiff,
    write_mcd12q1,
    write_nasadem,
)
from pipeline.sources.smap_files import l2_name, l3_name, tile_name, write_l2, write_l3
from pipeline.year import in_progress, sample_days, through

if TYPE_CHECKING:
    from stimpute.field_twin import Day, FieldTwin
    from stimpute.orbit import Orbit

log = logging.getLogger("pipeline")

# the products the twin stands in for
WRITERS = ("SPL2SMAP_S", "SPL3SMP_E", "daymet", "elevation", "land_cover", "soil_texture")
IGBP = {"grass": 10, "crop": 12, "shrub": 7, "forest": 4}  # twin land cover -> MCD12Q1 class
REISSUE_BIAS = 0.05  # the superseded first issue of one scene is off by this much
MARGIN = 9  # px simulated around the region, so reprojected covariates have neighbours
SCENE_ROWS, SCENE_OVERLAP = 160, 20  # along-track length of a scene and its overlap, px


class SampleSource:
    """Search and fetch granules of the twin; nothing leaves the machine."""

    name = "sample"

    def __init__(self, archive: Path) -> None:
        self.archive = Path(archive)

    def folder(self, region: Region, year: int) -> Path:
        return self.archive / region.name / str(year)

    def search(
        self, product: Product, region: Region, year: int, revised_since: datetime | None = None
    ) -> list[Granule]:
        """The archive's files of the product; with `revised_since`, those written since then
        (a file's modification time stands for the catalogue's revision date)."""
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
            revised = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            if revised_since is not None and revised < revised_since:
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
                    revised=revised.isoformat(),
                    native_id=path.stem,
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

    def reissue(self, region: Region, year: int, name: str) -> Path:
        """Publish a reissue of one granule of the archive, as a data centre does: the same
        scene under the next counter, revised now (a test option: reissues run offline)."""
        src = self.folder(region, year) / name
        scene, counter = scene_and_counter(name)
        stem, ext = scene.rsplit(".", 1)
        dest = src.with_name(f"{stem}_{counter + 1:03d}.{ext}")
        shutil.copyfile(src, dest)
        return dest

    def ensure(self, region: Region, year: int) -> Path:
        """Write the archive for region/year unless a complete one of this SAMPLE_VERSION is
        there (an older or half-written one is replaced)."""
        folder = self.folder(region, year)
        stamp = f"written by pipeline.sources.sample {SAMPLE_VERSION}\n"
        if in_progress(year):  # the year so far: the next day's run publishes more
            stamp += f"through {through(year, sample_days(year))}\n"
        done = folder / ".complete"
        if done.is_file() and done.read_text() == stamp:
            return folder
        same_version = done.is_file() and done.read_text().split("\n")[0] == stamp.split("\n")[0]
        if same_version and in_progress(
            year
        ):  # publish the days since: files there stay as they are
            log.info("sample: publishing %s %d through %s", region.name, year, stamp.split()[-1])
            write_archive(folder, region, year, keep=True)
            done.write_text(stamp)
            return folder
        if folder.exists():
            log.info("sample: rewriting %s (an older or incomplete sample)", folder)
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        write_archive(folder, region, year)
        done.write_text(stamp)
        return folder


def _day_of(name: str, year: int) -> date:
    """SMAP names carry the day; a Daymet file counts from 1 January of the year its name
    carries (the year before's, for the rain before the year), static files from the year's."""
    from pipeline.readers.smap import granule_date

    try:
        return granule_date(Path(name))
    except GranuleError:
        named = re.fullmatch(r"daymet_.*_(\d{4})\.nc", name)
        return date(int(named.group(1)) if named else year, 1, 1)


# raise when what the sample writes changes, so archives written by older code are rewritten
# 2: rain calibrated to ~2.2 mm/day; SPL3SMP_E with a ring of 9 km cells; 3: no Daymet for the
# year in progress (Daymet publishes whole years); 4: the rain product blurred by a moving mean,
# not 3 x 3 blocks (whose edges drew a 3 km grid in the fill); 5: the soil water spun up through
# 90 days before 1 January (it opened the year drying from a fixed state); 6: the year before's
# Daymet rain file, with the rain of those 90 days
SAMPLE_VERSION = 6


def padded(grid: RegionGrid, margin: int = MARGIN) -> RegionGrid:
    """The grid grown by `margin` pixels on each side, within the global grid."""
    from pipeline.grid import RESOLUTIONS

    rows, cols = RESOLUTIONS[grid.resolution][1]
    r0, c0 = max(0, grid.row0 - margin), max(0, grid.col0 - margin)
    r1 = min(rows, grid.row0 + grid.height + margin)
    c1 = min(cols, grid.col0 + grid.width + margin)
    return RegionGrid(r0, c0, r1 - r0, c1 - c0, grid.resolution)


def sample_seed(year: int) -> int:
    """One seed per year, the same for every region, so regions agree where they overlap."""
    return zlib.crc32(f"stimpute-sample:{year}".encode())


def scenes(
    day: Day, grid: RegionGrid, inner: tuple[slice, slice], orbit: Orbit
) -> Iterator[tuple[str, str, np.ndarray]]:
    """The day's SPL2SMAP_S scenes inside `grid`: (tile label, acquisition time hhmmss, (H, W) bool mask)
    per scene, one at a time (a state's day has dozens of region-sized masks).

    Each acquisition's swath is cut along track every SCENE_ROWS global rows into scenes that
    overlap by SCENE_OVERLAP rows; a scene is named after its upper-left corner on the global
    grid, so the same scene has the same name in every region that holds part of it."""
    rows = np.arange(grid.row0, grid.row0 + grid.height)[:, None]
    first = (grid.row0 - SCENE_ROWS - SCENE_OVERLAP) // SCENE_ROWS + 1
    last = (grid.row0 + grid.height - 1) // SCENE_ROWS
    for p in day.passes:
        swath = p.inside[inner]
        for j in range(first, last + 1):
            lo, hi = j * SCENE_ROWS, j * SCENE_ROWS + SCENE_ROWS + SCENE_OVERLAP
            mask = swath & (rows >= lo) & (rows < hi)
            if not mask.any():
                continue
            # the scene's corner on the global grid: its first row, the swath's westmost column
            west = orbit.track_west(p.track, hi - 1)
            corner = RegionGrid(max(0, lo), max(0, int(np.floor(west))), 1, 1)
            second = (p.track * 6000 + j * 23) % 86400  # scenes of a track follow each other
            when = f"{second // 3600:02d}{second // 60 % 60:02d}{second % 60:02d}"
            yield tile_name(corner), when, mask


def write_archive(
    folder: Path, region: Region, year: int, progress: Any = None, keep: bool = False
) -> None:
    """Simulate the region-year a day at a time and write its granules as each day comes:
    SPL2SMAP_S scenes and the SPL3SMP_E day, the Daymet days into their yearly files (past
    years only, as Daymet publishes); the static files once. With `keep`, SMAP granules and static files already there are left as
    they are (the year in progress: only the new days are published)."""

    def l2(path: Path, *args: Any) -> None:
        if not (keep and path.exists()):
            write_l2(path, *args)

    from stimpute.field_twin import FieldTwin

    grid = region.grid
    wide = padded(grid)
    inner = (
        slice(grid.row0 - wide.row0, grid.row0 - wide.row0 + grid.height),
        slice(grid.col0 - wide.col0, grid.col0 - wide.col0 + grid.width),
    )
    days = sample_days(year)
    log.info("sample: simulating %s %d on a %d x %d grid", region.name, year, *grid.shape)
    tw = FieldTwin(
        wide.row0, wide.col0, wide.height, wide.width,
        seed=sample_seed(year), start=f"{year}-01-01", days=days,
    )  # fmt: skip
    w9 = wide.coarsen("9km")  # the region's cells and a ring around them, as a global file has
    ticker = Ticker(progress, "sample", days, "days")
    reissued = False
    with ExitStack() as stack:
        weather = []  # Daymet publishes whole years: none for the year in progress
        if not in_progress(year):
            for v, units, field in (
                ("prcp", "mm/day", "precipitation"),
                ("tmax", "degrees C", "tmax"),
            ):
                path = folder / daymet_name(v, year)
                writer = stack.enter_context(DaymetWriter(path, v, units, wide, tw.dates))
                weather.append((writer, field))
        for d in tw.days():
            day = date(year, 1, 1) + timedelta(days=d.index)
            retrieval, bad = d.retrieval[inner], d.qc_flag[inner] != 0
            for label, when, mask in scenes(d, grid, inner, tw.orbit):
                sm = np.where(mask, retrieval, np.nan)
                if not reissued:  # a first issue, superseded by counter 002 below
                    l2(folder / l2_name(day, label, 1, when), grid, sm + REISSUE_BIAS, bad & mask)
                    l2(folder / l2_name(day, label, 2, when), grid, sm, bad & mask)
                    reissued = True
                else:
                    l2(folder / l2_name(day, label, 1, when), grid, sm, bad & mask)
            if not (keep and (folder / l3_name(day)).exists()):
                write_l3(folder / l3_name(day), w9, d.sm_9km, np.full_like(d.sm_9km, np.nan))
            for writer, field in weather:
                writer.write(d.index, getattr(d, field))
            ticker.advance()
            del d, retrieval, bad  # let the twin make the next day in the memory of this one
    if not keep:
        write_static(folder, wide, year, tw.static)
        if weather:
            write_rain_before(folder, wide, year, tw)


def write_rain_before(folder: Path, grid: RegionGrid, year: int, tw: FieldTwin) -> None:
    """The year before's Daymet rain file, holding the days the twin's weather reaches back
    (the spin-up the first morning's soil was walked through): a run reads the rain of the
    weeks before 1 January from it, as from the real year before's file. Each sample year is
    a simulation of its own, so this is not the rain of the sample of the year before."""
    from stimpute.simulate import SPINUP_DAYS

    first = np.datetime64(f"{year}-01-01", "D")
    dates = first - SPINUP_DAYS + np.arange(SPINUP_DAYS)
    path = folder / daymet_name("prcp", year - 1)
    with DaymetWriter(path, "prcp", "mm/day", grid, dates) as writer:
        for t, rain in enumerate(tw.rain_before(SPINUP_DAYS)):
            writer.write(t, rain)


def truth_twin(region: Region, year: int) -> FieldTwin:
    """The twin the sample's year of `region` is made from (on the region grid): its `truths()`
    are the true surface soil moisture the retrievals measure with noise and bias."""
    from stimpute.field_twin import FieldTwin

    g = region.grid
    return FieldTwin(
        g.row0, g.col0, g.height, g.width, seed=sample_seed(year), start=f"{year}-01-01",
        days=sample_days(year),
    )  # fmt: skip


def truth(region: Region, year: int) -> Iterator[np.ndarray]:
    """The twin's true surface soil moisture of each day of the year, one day at a time."""
    yield from truth_twin(region, year).truths()


def write_static(folder: Path, grid: RegionGrid, year: int, static: dict[str, np.ndarray]) -> None:
    """Elevation as NASADEM tiles, land cover as MCD12Q1 tiles, sand and clay as SoilGrids."""
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
