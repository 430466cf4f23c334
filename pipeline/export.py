"""The export stage: the filled cube as the files GIS users open.

- `<region>_<year>.nc`: CF-1.8 NetCDF (compressed, chunked, grid mapping with `crs_wkt`, x/y in
  metres, flag_values/flag_meanings, provenance attributes).
- `cog/<region>_<date>.tif` per day: Cloud-Optimized GeoTIFF (DEFLATE, internal overviews where
  the image is larger than a block, nodata, band descriptions) with `<same name>.qml` beside it.
- `stac/catalog.json`: a STAC catalog of the daily items and the NetCDF.
- `<region>_<year>.qgs`: a QGIS project of all of it (qgis_project.py), with `tiles.gpkg` and
  `boundary.gpkg`.

The work runs as tasks on the fill's runner (a dask cluster, or this process): the NetCDF is one
task, streamed chunk by chunk; the COGs are written by spans of days, each span inside one time
chunk of `filled.zarr` and holding at most `SPAN_BYTES` of it, so a task's memory is bounded
whatever the region's area (down to one day a task). Every file is written beside its target
and renamed when complete; `export.json` records what was written for which fill, so a re-run
writes only what is missing or out of date. It also keeps a digest of what each day's COG holds
(its three bands, tags and CRS): after a new fill, a day whose digest is unchanged keeps its file,
so a fill that changed a few days (a night's new days, a reissued scene) rewrites only theirs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from pipeline.catalog import load_products
from pipeline.catalog import region as find_region
from pipeline.cluster import Runner
from pipeline.errors import ExportError
from pipeline.export_formats import VARIABLES, day_bands, write_cog, write_stac, write_vectors
from pipeline.export_netcdf import days_to_update, update_netcdf, write_netcdf
from pipeline.files import replacing
from pipeline.fill_tasks import FILLED, NO_DATA, OBSERVED
from pipeline.progress import Ticker
from pipeline.provenance import peak_rss_mb
from pipeline.qgis_project import write_project
from pipeline.qml import soil_moisture_style
from pipeline.refill import refilled_days
from pipeline.sources.base import sha256
from pipeline.tile import fingerprint

EXPORT_FORMAT = 3  # 3: the NetCDF's time is unlimited (a night appends to it)
SPAN_BYTES = 256 * 2**20  # of the filled store a COG task holds at once
NATIVE_CRS = "EPSG:6933"
BYTES_PER_PIXEL_DAY = 9  # soil moisture and uncertainty (float32) and the flag (uint8)
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
        # no wall-clock time inside a product: a file rebuilt from the same inputs is the same
        # bytes (checksum-based syncs stay quiet); when it was made is in export.json
        "history": f"gap-filled by python -m pipeline fill, code {fill_record['code_version']}",
        "references": "Yao, Huang, Zhu: Spatiotemporal Transformer for Imputing Sparse Data, arXiv 2312.00963",
    }


def day_spans(
    days: int, chunk: int, pixels: int, budget: int = SPAN_BYTES
) -> list[tuple[int, int]]:
    """Day ranges [t0, t1) for the COG tasks: each inside one time chunk of `chunk` days (a task
    decompresses only chunks it uses) and at most `budget` bytes of the store (at least a day)."""
    if days < 1 or chunk < 1 or pixels < 1:
        raise ExportError(
            f"day_spans: days ({days}), chunk ({chunk}) and pixels ({pixels}) must be positive"
        )
    n = max(1, min(chunk, budget // (pixels * BYTES_PER_PIXEL_DAY)))
    return [
        (t0, min(c0 + chunk, days, t0 + n))
        for c0 in range(0, days, chunk)
        for t0 in range(c0, min(c0 + chunk, days), n)
    ]


@dataclass(frozen=True)
class ExportJob:
    """What every export task needs: plain values, so the job pickles small to dask workers."""

    filled: str  # path of filled.zarr
    region: str
    netcdf: str  # path of the year's NetCDF
    cog_dir: str
    days: tuple[str, ...]  # ISO date of each time step
    cogs: frozenset[int]  # time steps whose COG must be (re)written (missing or not as written)
    digests: tuple[str | None, ...]  # each step's COG digest as last written (None: unknown)
    styles: frozenset[int]  # time steps whose QGIS style must be (re)written
    transform: Any  # affine transform of the native grid
    crs: str | None  # None: the native EASE-Grid 2.0
    attrs: tuple[tuple[str, str], ...]
    netcdf_days: tuple[int, ...] | None = None  # steps to write into the NetCDF (None: whole)


def cog_digest(bands: Any, tags: dict[str, str], crs: str | None) -> str:
    """What a day's COG is made from: its bands' bytes, its tags and its CRS (None: native)."""
    h = hashlib.sha256(bands.tobytes())
    h.update(json.dumps([sorted(tags.items()), crs]).encode())
    return h.hexdigest()


def export_span(job: ExportJob, span: tuple[int, int]) -> dict[str, Any]:
    """Write the days in `span` whose COG is missing, damaged or no longer what the fill holds
    (by digest), and their missing styles; return {"written": paths, "digests": {step: digest}}."""
    t0, t1 = span
    with xr.open_zarr(job.filled, consolidated=True, chunks=None) as filled:
        sel = filled.isel(time=slice(t0, t1))
        block = {n: sel[n].values for n in VARIABLES}
    attrs, style, written = dict(job.attrs), soil_moisture_style(), []
    digests = {}
    for t in range(t0, t1):
        day = job.days[t]
        tif = Path(job.cog_dir) / f"{job.region}_{day}.tif"
        tags = {"date": day, **attrs}
        bands = day_bands(block, t - t0)
        digests[t] = cog_digest(bands, tags, job.crs)
        if t in job.cogs or digests[t] != job.digests[t]:
            written.append(str(write_cog(bands, tif, job.transform, NATIVE_CRS, job.crs, tags)))
        if t in job.styles:
            with replacing(tif.with_suffix(".qml")) as tmp:
                tmp.write_text(style)
            written.append(str(tif.with_suffix(".qml")))
    return {"written": written, "digests": digests}


def export_part(job: ExportJob, part: tuple[str, int, int]) -> dict[str, Any]:
    """One task: ("netcdf", 0, 0) writes the year's NetCDF (streamed, see write_netcdf) or
    updates its `netcdf_days` (update_netcdf); a span ("days <first>", t0, t1) its days' files
    (export_span)."""
    name, t0, t1 = part
    if name != "netcdf":
        return export_span(job, (t0, t1))
    path, attrs = Path(job.netcdf), dict(job.attrs)
    with xr.open_zarr(job.filled, consolidated=True, chunks=None) as filled:
        if job.netcdf_days is None:
            return {"written": [str(write_netcdf(filled, path, attrs))]}
        return {"written": [str(update_netcdf(filled, path, attrs, job.netcdf_days))]}


def _qgis_project(out: Path, region: str, year: int, netcdf: Path, tiles: Path) -> list[str]:
    """The vector layers and the QGIS project over the native-grid COGs (a CRS= export adds
    reprojected copies elsewhere); nothing while no native COG exists yet."""
    native = sorted((out / "cog").glob(f"{region}_*.tif"))
    if not native:
        return []
    reg = find_region(region)
    made = [out / "tiles.gpkg", out / "boundary.gpkg", out / f"{region}_{year}.qgs"]
    before = [p.stat().st_mtime_ns if p.exists() else None for p in made]
    tiles_gpkg, boundary = write_vectors(out, reg, tiles, f"{year}-12-31T00:00:00.000Z")
    write_project(out, region, year, netcdf, native[-1], tiles_gpkg, boundary, reg.grid.bounds())
    # each is rewritten only where its bytes change (the project names the newest day)
    return [p.name for p, t in zip(made, before, strict=True) if p.stat().st_mtime_ns != t]


def run(
    folder: Path,
    region: str,
    year: int,
    *,
    crs: str | None = None,
    lonlat_bbox: list[float],
    progress: Any = None,
    runner: Runner | None = None,
) -> dict[str, Any]:
    """Write folder/export/ from folder/filled.zarr; only what is missing or stale. The NetCDF
    and the spans of days run as tasks on `runner` (this process when None)."""
    start = time.perf_counter()
    runner = runner or Runner(None)
    fill_path = folder / "fill.json"
    if not (folder / "filled.zarr").exists() or not fill_path.exists():
        raise ExportError(f"no filled cube in {folder}: run the fill stage first")
    fill_record = json.loads(fill_path.read_text())
    try:
        filled = xr.open_zarr(folder / "filled.zarr", consolidated=True)
    except Exception as exc:
        raise ExportError(
            f"{folder / 'filled.zarr'} is not readable ({exc}); delete it and run the same command "
            "again: the fill stage rebuilds it"
        ) from exc
    out = folder / "export"
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / "export.json"
    key = fingerprint(EXPORT_FORMAT, fill_record["fingerprint"], crs)
    previous = json.loads(record_path.read_text()) if record_path.exists() else {}
    current = previous.get("fingerprint") == key
    known: dict[str, Any] = previous.get("files", {})

    @functools.cache
    def damaged(path: Path) -> bool:
        """The file is gone or is not the bytes written (as found when the run started: each
        file is asked about before anything is written to it)."""
        return not path.exists() or not _intact(path, known.get(_rel(path, out)))

    def stale(path: Path) -> bool:
        """Remade when the fill changed, or the file is damaged."""
        return not current or damaged(path)

    import rioxarray  # noqa: F401 - the .rio accessor reads the grid mapping

    days = [str(d)[:10] for d in filled["time"].values]
    cog_dir = out / ("cog" if crs is None else f"cog-{crs.replace(':', '').lower()}")
    cog_dir.mkdir(exist_ok=True)
    tifs = [(day, cog_dir / f"{region}_{day}.tif") for day in days]
    netcdf = out / f"{region}_{year}.nc"
    # a day's COG digest as last written: a new fill rewrites only the days whose digest changed
    last = previous.get("days", {}) if previous.get("crs") == (crs or NATIVE_CRS) else {}
    job = ExportJob(
        filled=str(folder / "filled.zarr"), region=region, netcdf=str(netcdf), cog_dir=str(cog_dir),
        days=tuple(days),
        cogs=frozenset(t for t, (_, tif) in enumerate(tifs) if damaged(tif)),
        digests=tuple(last.get(day) for day in days),
        styles=frozenset(t for t, (_, tif) in enumerate(tifs) if damaged(tif.with_suffix(".qml"))),
        transform=filled.rio.write_crs(filled["spatial_ref"].attrs["crs_wkt"]).rio.transform(),
        crs=crs, attrs=tuple(provenance(fill_record).items()),
        netcdf_days=days_to_update(
            fill_record, previous, len(days), netcdf, lambda p: not damaged(p)
        ),
    )  # fmt: skip
    pixels = filled.sizes["y"] * filled.sizes["x"]
    # the variable's own time chunks: Dataset.chunks refuses a store whose variables differ
    spans = day_spans(len(days), filled["soil_moisture"].chunks[0][0], pixels, SPAN_BYTES)
    moved = days_moved(fill_record, previous, job.attrs, len(days)) if not current else set()
    parts = [("netcdf", 0, 0)] if stale(netcdf) else []  # the longest task goes first
    parts += [  # the spans holding a day the fill may have moved, or a damaged file
        (f"days {days[t0]}", t0, t1)
        for t0, t1 in spans
        if any(t in moved or t in job.cogs or t in job.styles for t in range(t0, t1))
    ]
    ticker = Ticker(progress, "export", len(parts), "parts")
    written: list[str] = []
    digests = {day: d for day, d in zip(days, job.digests, strict=True) if d is not None}
    for done in runner.map(export_part, parts, job, what="export", gpu=False):
        written += [str(Path(p).relative_to(out)) for p in done["written"]]
        digests |= {days[t]: d for t, d in done.get("digests", {}).items()}
        ticker.advance()
    cogs_written = sum(p.endswith(".tif") for p in written)
    catalog = out / "stac" / "catalog.json"
    if written or any(stale(p) for p in [catalog, *(out / "stac").rglob("*.json")]):
        write_stac(out, region, year, tifs, netcdf, lonlat_bbox, crs or NATIVE_CRS)
    project = out / f"{region}_{year}.qgs"
    if any(stale(p) for p in (project, out / "tiles.gpkg", out / "boundary.gpkg")):
        written += _qgis_project(out, region, year, netcdf, folder / "tiles.parquet")
    if not written and current:
        return previous | {"written": 0}
    record = {
        "fingerprint": key,
        "fill": fill_record["fingerprint"],  # the fill these files hold
        "provenance": dict(job.attrs),  # what every COG's tags hold beside its date
        "crs": crs or NATIVE_CRS,
        "netcdf": netcdf.name,
        "netcdf_days_written": (
            None if netcdf.name not in written else len(job.netcdf_days or days)
        ),
        "cogs": len(tifs),
        "stac": str(catalog.relative_to(out)),
        "written": len(written),
        "cogs_written": cogs_written,
        "tasks": len(parts),
        "workers": runner.workers,
        "seconds": round(time.perf_counter() - start, 1),
        "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "peak_memory_mb": peak_rss_mb(),
        "worker_peak_memory_mb": runner.run_on_workers(peak_rss_mb) if runner.client else {},
        "flags": {"observed": OBSERVED, "filled": FILLED, "no_data": NO_DATA},
        "files": _file_sums(out),
        "days": digests,
    }
    with replacing(record_path) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    return record


def days_moved(
    fill_record: dict[str, Any],
    previous: dict[str, Any],
    attrs: tuple[tuple[str, str], ...],
    n_time: int,
) -> set[int]:
    """The steps whose COG may differ from the one last written: after a refill of the very fill
    the last export (`previous`, its record) holds, with the same provenance in every file, the
    refill's rewritten days alone (a night reads its new day, not the year); else every step,
    each then compared by its digest."""
    days = refilled_days(fill_record.get("refill"), previous.get("fill"))
    if days is None or previous.get("provenance") != dict(attrs):
        return set(range(n_time))
    return days


def _rel(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()


def _intact(path: Path, want: dict[str, Any] | None) -> bool:
    """Whether a file is what the export wrote (size, then SHA-256); True when nothing was
    recorded for it (an export from before the sums were kept)."""
    if want is None:
        return True
    return path.stat().st_size == want["size"] and sha256(path) == want["sha256"]


def _file_sums(out: Path) -> dict[str, Any]:
    """Size and SHA-256 of every product file, so the next run remakes one that was cut short
    or altered (the export writes this record only when it wrote something)."""
    return {
        _rel(p, out): {"size": p.stat().st_size, "sha256": sha256(p)}
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != "export.json" and not p.name.endswith(".part")
    }
