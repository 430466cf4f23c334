"""python -m pipeline STAGE --region NAME --year YYYY [--source sample|earthdata]

Stages so far: download, cube. Errors are one line that says what to do (exit 2); --debug
shows the traceback.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pipeline import cube as cube_stage
from pipeline import download as download_stage
from pipeline.catalog import load_products
from pipeline.catalog import region as find_region
from pipeline.errors import PipelineError, SourceError

app = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("pipeline")

# what each source delivers (both: every product in the catalog)
SOURCE_PRODUCTS = {
    name: ["SPL2SMAP_S", "SPL3SMP_E", "daymet", "elevation", "land_cover", "soil_texture"]
    for name in ("sample", "earthdata")
}


def data_root(data: Path | None) -> Path:
    return data or Path(os.environ.get("DATA", "data"))


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=False, disable=not err.is_terminal,
    )  # fmt: skip


def _source(name: str, root: Path) -> download_stage.Source:
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


def _run(debug: bool, fn) -> None:
    handler: logging.Handler = (
        RichHandler(console=err, show_path=False, show_time=False)
        if err.is_terminal
        else logging.StreamHandler(sys.stderr)  # logs and cron mail: one line per message
    )
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO, format="%(message)s", handlers=[handler]
    )
    try:
        fn()
    except PipelineError as exc:
        if debug:
            raise
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("interrupted: nothing half-written was kept; run the same command to resume")
        raise typer.Exit(130) from None


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@app.command()
def download(
    region: str = typer.Option(..., help="a region of catalogs/regions.toml"),
    year: int = typer.Option(..., help="calendar year"),
    source: str = typer.Option("earthdata", envvar="SOURCE", help="earthdata or sample"),
    data: Path = typer.Option(None, help="data root (default $DATA or ./data)"),
    debug: bool = typer.Option(False, help="tracebacks and debug logs"),
) -> None:
    """Find and fetch the granules of a region-year into DATA/REGION/YEAR/raw."""

    def go() -> None:
        reg = find_region(region)
        root = data_root(data)
        src = _source(source, root)
        products = load_products()
        wanted = [products[p] for p in SOURCE_PRODUCTS[src.name]]
        raw = root / reg.name / str(year) / "raw"
        with progress_bar() as bar:
            rep = download_stage.run(reg, year, wanted, source=src, raw=raw, progress=bar)
        log.info(
            "download %s %d: %d fetched (%.1f MB), %d already there, %d superseded reissues, %.1fs -> %s",
            reg.name, year, len(rep.fetched), rep.bytes / 1e6, len(rep.skipped), rep.superseded, rep.seconds, raw,
        )  # fmt: skip

    _run(debug, go)


@app.command()
def cube(
    region: str = typer.Option(..., help="a region of catalogs/regions.toml"),
    year: int = typer.Option(..., help="calendar year"),
    data: Path = typer.Option(None, help="data root (default $DATA or ./data)"),
    strict: bool = typer.Option(False, help="fail on a damaged granule instead of skipping it"),
    force: bool = typer.Option(False, help="rebuild even if the granules have not changed"),
    debug: bool = typer.Option(False, help="tracebacks and debug logs"),
) -> None:
    """Build DATA/REGION/YEAR/cube.zarr from the downloaded granules."""

    def go() -> None:
        reg = find_region(region)
        folder = data_root(data) / reg.name / str(year)
        products = load_products()
        with progress_bar() as bar:
            meta = cube_stage.build(
                reg,
                year,
                products,
                raw=folder / "raw",
                out=folder / "cube.zarr",
                strict=strict,
                force=force,
                progress=bar,
            )
        if meta.get("up_to_date"):
            log.info(
                "cube %s %d: up to date with the downloaded granules (--force rebuilds)",
                reg.name,
                year,
            )
            return
        meta["peak_memory_mb"] = round(_peak_mb(), 1)
        (folder / "cube.json").write_text(json.dumps(meta, indent=1))
        log.info(
            "cube %s %d: %s pixel-days, %.1f%% missing, %d granules skipped, %.1fs, %.1f MB on disk, peak memory %.0f MB",
            reg.name, year, "x".join(map(str, meta["shape"])), 100 * meta["missing_share"],
            len(meta["skipped_granules"]), meta["seconds"], meta["bytes"] / 1e6, meta["peak_memory_mb"],
        )  # fmt: skip

    _run(debug, go)


if __name__ == "__main__":
    sys.exit(app())
