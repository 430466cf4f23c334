"""python -m pipeline COMMAND --region NAME --year YYYY [--source sample|earthdata]

`fill` runs every stage: download -> cube -> tile -> impute -> export, each skipped when its
outputs are current. Each stage also runs alone (download, cube, tile, impute, export), and
`train` fits a region checkpoint on past years. One run at a time per region-year (--wait
queues behind a running one).

Exit codes: 0 done or up to date; 2 change something (the one-line error says what); 75 try
again later (another run holds the region-year); 130 interrupted, 143 stopped by SIGTERM;
1 a bug (--debug shows the traceback).
"""

from __future__ import annotations

import os
import sys

from pipeline.cluster import ENV_SCHEDULER, local_plan
from pipeline.worker_start import start_forkserver, starts_local_fill, workers_option

# first thing, before the imports below: the process the local workers will be forked from
# imports their modules on another core meanwhile (worker_start)
if __name__ == "__main__" and starts_local_fill(sys.argv[1:], os.environ, ENV_SCHEDULER):
    start_forkserver(local_plan("cpu", workers_option(sys.argv[1:]))[1])

import json
import logging
from pathlib import Path

import typer
from rich.console import Console

from pipeline import arguments, cluster, report
from pipeline import cube as cube_stage
from pipeline import tile as tile_stage
from pipeline import train as train_stage
from pipeline.catalog import region as find_region
from pipeline.command_line import (
    BASELINES,
    BUDGET,
    CRS_OPT,
    DATA,
    DEBUG,
    DEVICE,
    HOLDOUT,
    HOLDOUT_BY,
    OVERLAP,
    REGION,
    SCHEDULER,
    SEED,
    SOURCE,
    TILE_SIZE,
    WAIT,
    WORKERS,
    YEAR,
    checked_root,
    data_root,
    progress_bar,
    run_command,
)
from pipeline.fill_inputs import Holdout
from pipeline.run_lock import one_run
from pipeline.stages import (
    cluster_settings,
    fill_settings,
    recorded_seconds,
    stage_cube,
    stage_download,
    stage_export,
    stage_impute,
    stage_tile,
)
from pipeline.status import status as status_of
from pipeline.status import year_run

# the docstring's paragraphs, each as one line, so the terminal wraps them
HELP = "\n\n".join(" ".join(p.split()) for p in (__doc__ or "").split("\n\n"))
app = typer.Typer(add_completion=False, help=HELP, no_args_is_help=True)
log = logging.getLogger("pipeline")


def download(
    region: str = REGION,
    year: int = YEAR,
    source: str = SOURCE,
    data: Path = DATA,
    wait: bool = WAIT,
    debug: bool = DEBUG,
) -> None:
    """Find and fetch the granules of a region-year into DATA/REGION/YEAR/raw."""

    def go() -> None:
        reg, root = find_region(region), checked_root(data, year)
        with year_run(root, reg.name, year, "download", wait=wait), progress_bar() as bar:
            stage_download(reg, year, root, source, bar)

    run_command(debug, go)


def cube(
    region: str = REGION, year: int = YEAR, data: Path = DATA,
    strict: bool = typer.Option(False, help="fail on a damaged granule instead of skipping it"),
    force: bool = typer.Option(False, help="rebuild even if the granules have not changed"),
    wait: bool = WAIT, debug: bool = DEBUG,
) -> None:  # fmt: skip
    """Build DATA/REGION/YEAR/cube.zarr from the downloaded granules."""

    def go() -> None:
        reg, root = find_region(region), checked_root(data, year)
        with year_run(root, reg.name, year, "cube", wait=wait), progress_bar() as bar:
            stage_cube(reg, year, root, strict, force, bar)

    run_command(debug, go)


def tile(
    region: str = REGION,
    year: int = YEAR,
    data: Path = DATA,
    size: int = TILE_SIZE,
    overlap: int = OVERLAP,
    wait: bool = WAIT,
    debug: bool = DEBUG,
) -> None:
    """Cut the region into overlapping tiles: DATA/REGION/YEAR/tiles.parquet (GeoParquet)."""

    def go() -> None:
        reg, root = find_region(region), checked_root(data, year)
        tile_stage.check_tiling(size, overlap)
        with year_run(root, reg.name, year, "tile", wait=wait):
            stage_tile(reg, year, root, size, overlap)

    run_command(debug, go)


def impute(
    region: str = REGION, year: int = YEAR, data: Path = DATA, device: str = DEVICE, budget: float = BUDGET,
    holdout: float = HOLDOUT, holdout_by: str = HOLDOUT_BY, baselines: str = BASELINES, seed: int = SEED,
    scheduler: str = SCHEDULER, workers: int = WORKERS, wait: bool = WAIT, debug: bool = DEBUG,
) -> None:  # fmt: skip
    """The fill stage alone: DATA/REGION/YEAR/filled.zarr and fill.json (held-out metrics)."""

    def go() -> None:
        reg, root = find_region(region), checked_root(data, year)
        settings, where = (
            fill_settings(device, budget, holdout, holdout_by, baselines, seed),
            cluster_settings(scheduler, workers),
        )
        with year_run(root, reg.name, year, "impute", wait=wait), progress_bar() as bar:
            stage_impute(reg, year, root, settings, where, bar)

    run_command(debug, go)


def export(
    region: str = REGION, year: int = YEAR, data: Path = DATA, crs: str = CRS_OPT,
    scheduler: str = SCHEDULER, workers: int = WORKERS, wait: bool = WAIT, debug: bool = DEBUG,
) -> None:  # fmt: skip
    """NetCDF, daily COGs with QGIS styles, STAC, and the run report: DATA/REGION/YEAR/export/."""

    def go() -> None:
        reg, root = find_region(region), checked_root(data, year)
        crs_ = arguments.check_crs(crs)
        folder = root / reg.name / str(year)
        with year_run(root, reg.name, year, "export", wait=wait):
            with (
                progress_bar() as bar,
                cluster.runner(cluster_settings(scheduler, workers), "cpu") as run,
            ):
                stage_export(reg, year, root, crs_, bar, run)
            report.write(folder, reg.name, year, recorded_seconds(folder))

    run_command(debug, go)


def train(
    region: str = REGION,
    years: str = typer.Option(..., help="years to learn from: 2016-2021 or 2019,2021"),
    source: str = SOURCE, data: Path = DATA, device: str = DEVICE,
    budget: float = typer.Option(1800.0, envvar="STIMPUTE_TRAIN_BUDGET", help="seconds of training"),
    area: int = typer.Option(288, help="side in pixels of the block trained on"),
    seed: int = SEED, wait: bool = WAIT, debug: bool = DEBUG,
) -> None:  # fmt: skip
    """Train a region checkpoint on past years (DATA/models/REGION/); fill then uses it."""

    def go() -> None:
        reg, root = find_region(region), checked_root(data)
        wanted = arguments.check_years(years)
        arguments.check_device(device)
        arguments.check_budget(budget)
        with one_run(root, reg.name, "models", wait=wait):
            with progress_bar() as bar:
                for y in wanted:
                    with one_run(root, reg.name, str(y), wait=wait):
                        stage_download(reg, y, root, source, bar)
                        stage_cube(reg, y, root, False, False, bar)
            cubes = {
                y: cube_stage.open_cube(root / reg.name / str(y) / "cube.zarr") for y in wanted
            }
            folder = train_stage.region_models(root, reg.name)
            ckpt = train_stage.train_region(
                cubes,
                folder,
                area=area,
                budget_s=budget,
                device=device,
                seed=seed,
                holdout=Holdout(0.0, seed=seed),
            )
        info = ckpt.meta["training"]
        log.info(
            "train %s %s: %d steps in %.0fs on %s -> %s",
            reg.name,
            years,
            info["steps"],
            info["seconds"],
            info["device"],
            ckpt.path,
        )

    run_command(debug, go)


def fill(
    region: str = REGION, year: int = YEAR, source: str = SOURCE, data: Path = DATA, device: str = DEVICE,
    budget: float = BUDGET, holdout: float = HOLDOUT, holdout_by: str = HOLDOUT_BY, baselines: str = BASELINES, size: int = TILE_SIZE,
    overlap: int = OVERLAP, crs: str = CRS_OPT, seed: int = SEED, scheduler: str = SCHEDULER,
    workers: int = WORKERS, wait: bool = WAIT, debug: bool = DEBUG,
) -> None:  # fmt: skip
    """Everything: download -> cube -> tile -> impute -> export, each skipped when current."""

    def go() -> None:
        reg, root = find_region(region), checked_root(data, year)
        folder = root / reg.name / str(year)
        where = cluster_settings(scheduler, workers)
        tile_stage.check_tiling(size, overlap)
        settings = fill_settings(device, budget, holdout, holdout_by, baselines, seed)
        crs_ = arguments.check_crs(crs)
        if where.scheduler:  # a scheduler that does not answer stops the run before any work
            cluster.connect(where.scheduler, where.connect_timeout_s).close()
        with year_run(root, reg.name, year, "fill", wait=wait):
            with progress_bar() as bar:
                seconds = {"download": stage_download(reg, year, root, source, bar)}
                stage_cube(reg, year, root, False, False, bar)
                stage_tile(reg, year, root, size, overlap)
                filled = stage_impute(reg, year, root, settings, where, bar, export=True, crs=crs_)
            rec = filled["export"]
            seconds |= recorded_seconds(folder)
            if rec["written"] or not (folder / "export" / "report" / "report.md").exists():
                path = report.write(folder, reg.name, year, seconds)
                log.info("report: %s", path)
            else:
                log.info("%s %d: everything is up to date", reg.name, year)

    run_command(debug, go)


def status(
    region: str = REGION, year: int = YEAR, data: Path = DATA,
    as_json: bool = typer.Option(False, "--json", help="print JSON for scripts and monitoring"),
    debug: bool = DEBUG,
) -> None:  # fmt: skip
    """Per stage: current, stale (and why) or missing; and the last run. Does no work."""

    def go() -> None:
        reg, root = find_region(region), data_root(data)
        state = status_of(root, reg, year)
        if as_json:
            print(json.dumps(state, indent=1))
            return
        out = Console()
        for s in state["stages"]:
            colour = {"current": "green", "stale": "yellow", "missing": "red"}[s["state"]]
            out.print(
                f"{s['stage']:<9} [{colour}]{s['state']:<8}[/{colour}] {s['why']}", highlight=False
            )
        last = state["last_run"]
        if last:
            changed = ", ".join(last["changed"]) or "nothing"
            out.print(
                f"last run: {last['outcome']}, {last['started']} to {last['ended']}, changed {changed}"
                f" ({last['command']})",
                highlight=False,
            )
        else:
            out.print("last run: none recorded")

    run_command(debug, go)


# `--help` lists the commands in this order: the one most users run first
for command in (fill, status, train, download, cube, tile, impute, export):
    app.command()(command)


if __name__ == "__main__":
    sys.exit(app())
