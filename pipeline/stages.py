"""What the command line runs for each stage: the stage itself, with its settings built from the
checked arguments, and one short log line of what it did. `__main__` parses the arguments,
holds the run lock and reports errors; this module does the work."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from rich.progress import Progress

from pipeline import arguments, cluster
from pipeline import cube as cube_stage
from pipeline import download as download_stage
from pipeline import export as export_stage
from pipeline import fill as fill_stage
from pipeline import tile as tile_stage
from pipeline.catalog import Region, load_products
from pipeline.errors import ClusterError, SourceError
from pipeline.provenance import peak_rss_mb
from pipeline.year import in_progress, through

log = logging.getLogger("pipeline")

# what each source delivers (both: every product in the catalog)
SOURCE_PRODUCTS = {
    name: ["SPL2SMAP_S", "SPL3SMP_E", "daymet", "elevation", "land_cover", "soil_texture"]
    for name in ("sample", "earthdata")
}


def source_for(name: str, root: Path) -> download_stage.Source:
    if name == "sample":
        from pipeline.sources.sample import SampleSource

        return SampleSource(root / "sample-archive")
    if name == "earthdata":
        from pipeline.sources.earthdata import EarthdataSource
        from pipeline.sources.https import BySource, HttpsSource

        return BySource(EarthdataSource(), HttpsSource())  # SoilGrids is HTTPS, outside CMR
    raise SourceError(
        f"unknown source {name!r}: use 'earthdata' (needs a login) or 'sample' (offline)"
    )


def stage_download(reg: Region, year: int, root: Path, source: str, bar: Progress) -> float:
    src = source_for(source, root)
    products = load_products()
    wanted = [products[p] for p in SOURCE_PRODUCTS[src.name]]
    raw = root / reg.name / str(year) / "raw"
    rep = download_stage.run(reg, year, wanted, source=src, raw=raw, progress=bar)
    log.info(
        "download %s %d: %d fetched (%.1f MB), %d already there, %d superseded reissues, %.1fs -> %s",
        reg.name, year, len(rep.fetched), rep.bytes / 1e6, len(rep.skipped), rep.superseded, rep.seconds, raw,
    )  # fmt: skip
    return rep.seconds


def stage_cube(
    reg: Region, year: int, root: Path, strict: bool, force: bool, bar: Progress
) -> float:
    folder = root / reg.name / str(year)
    meta = cube_stage.build(
        reg, year, load_products(), raw=folder / "raw", out=folder / "cube.zarr",
        strict=strict, force=force, progress=bar,
    )  # fmt: skip
    if in_progress(year):  # say how far the year in progress reaches
        days = int(meta["shape"][0])
        log.info(
            "cube %s %d: the year in progress, with data through %s (%d days)",
            reg.name, year, through(year, days), days,
        )  # fmt: skip
    if meta.get("up_to_date"):
        log.info(
            "cube %s %d: up to date with the downloaded granules (--force rebuilds)", reg.name, year
        )
        previous = (
            json.loads((folder / "cube.json").read_text())
            if (folder / "cube.json").exists()
            else {}
        )
        return float(previous.get("seconds", 0.0))
    meta["peak_memory_mb"] = peak_rss_mb()
    (folder / "cube.json").write_text(json.dumps(meta, indent=1))
    log.info(
        "cube %s %d: %s pixel-days, %.1f%% missing, %d granules skipped, %.1fs, %.1f MB on disk, peak memory %.0f MB",
        reg.name, year, "x".join(map(str, meta["shape"])), 100 * meta["missing_share"],
        len(meta["skipped_granules"]), meta["seconds"], meta["bytes"] / 1e6, meta["peak_memory_mb"],
    )  # fmt: skip
    return float(meta["seconds"])


def stage_tile(reg: Region, year: int, root: Path, size: int, overlap: int) -> float:
    rec = tile_stage.run(root / reg.name / str(year), reg.grid, size=size, overlap=overlap)
    state = "up to date" if rec.get("up_to_date") else f"{rec['seconds']:.1f}s"
    log.info(
        "tile %s %d: %d tiles of %d px, overlap %d (%s)",
        reg.name,
        year,
        rec["tiles"],
        rec["size"],
        rec["overlap"],
        state,
    )
    return float(rec["seconds"])


def stage_impute(
    reg: Region,
    year: int,
    root: Path,
    settings: fill_stage.Settings,
    where: cluster.ClusterSettings,
    bar: Progress,
    export: bool = False,
    crs: str | None = None,
) -> dict[str, Any]:
    """The fill stage on the cluster `where` says; with `export`, the export stage (to `crs`,
    None for the native grid) runs on the same cluster before it closes."""
    # training (when no checkpoint is there) runs before the cluster starts, so the scheduler's
    # event loop in this process is not starved by it
    model = fill_stage.ensure_model(root / reg.name / str(year), reg.name, year, root, settings)
    with cluster.runner(where, settings.device) as run:
        rec = fill_stage.run(
            root / reg.name / str(year), reg.name, year, root, settings, run, bar, model
        )
        _log_impute(reg, year, rec)
        if export:
            rec["export"] = stage_export(reg, year, root, crs, bar, run)
    return rec


def _log_impute(reg: Region, year: int, rec: dict[str, Any]) -> None:
    if rec.get("up_to_date"):
        log.info("impute %s %d: up to date (same cube, tiles, model and settings)", reg.name, year)
        return
    st = next((m for m in rec["metrics"] if m["method"] == "st_transformer"), None)
    best = min(
        (m for m in rec["metrics"] if m["method"] != "st_transformer"),
        key=lambda m: m["mae"],
        default=None,
    )
    log.info(
        "impute %s %d: %s; %d values filled; %.1fs (%s pixel-days/s on %s, %s)%s",
        reg.name, year, rec["model"]["source"], rec["values"]["filled"], rec["seconds"]["total"],
        f"{rec['pixel_days_per_s'] or 0:,}", rec["device"],
        f"{rec['workers']} dask workers" if rec["workers"] else "in process",
        f"; held-out MAE {st['mae']:.4f} (best baseline {best['method']} {best['mae']:.4f})" if st and best else "",
    )  # fmt: skip


def stage_export(
    reg: Region, year: int, root: Path, crs: str | None, bar: Progress, run: cluster.Runner
) -> dict[str, Any]:
    crs = crs or None  # an empty CRS= from make means the native grid
    rec = export_stage.run(
        root / reg.name / str(year),
        reg.name,
        year,
        crs=crs,
        lonlat_bbox=list(reg.grid.lonlat_bbox()),
        progress=bar,
        runner=run,
    )
    what = (
        f"{rec['written']} files written, {rec.get('cogs_written', 0)} of them COGs"
        if rec["written"]
        else "up to date"
    )
    log.info(
        "export %s %d: %s (%d daily COGs, %s, STAC) -> %s",
        reg.name,
        year,
        what,
        rec["cogs"],
        rec["netcdf"],
        root / reg.name / str(year) / "export",
    )
    return rec


def fill_settings(
    device: str,
    budget: float | None,
    holdout: float,
    holdout_by: str,
    baselines: str,
    seed: int,
) -> fill_stage.Settings:
    """The fill's settings from the command line, each argument checked first."""
    names = arguments.check_baselines(tuple(b for b in baselines.split(",") if b and b != "none"))
    s = fill_stage.Settings(
        holdout=arguments.check_holdout(holdout),
        holdout_by=arguments.check_holdout_by(holdout_by),
        seed=seed,
        device=arguments.check_device(device),
        baselines=names,
    )
    if (checked := arguments.check_budget(budget)) is not None:
        s.train_budget_s = checked
    return s


def cluster_settings(scheduler: str | None, workers: int | None) -> cluster.ClusterSettings:
    if workers is not None and workers < 0:
        raise ClusterError(f"--workers {workers}: give 0 (no dask) or a positive number")
    return cluster.ClusterSettings(scheduler=scheduler or None, workers=workers)


def recorded_seconds(folder: Path) -> dict[str, float]:
    """Seconds of each stage's last real run, from the records the stages keep."""
    out = {}
    for stage, name, key in (
        ("cube", "cube.json", None),
        ("tile", "tiles.json", None),
        ("fill", "fill.json", "total"),
        ("export", "export/export.json", None),
    ):
        path = folder / name
        if path.exists():
            sec = json.loads(path.read_text()).get("seconds")
            out[stage] = float(sec[key] if key else sec) if sec is not None else 0.0
    return out
