"""What every command of `python -m pipeline` shares: its options, the data root, the progress
bar, and the shell around a command that sets up logging and turns a pipeline error, Ctrl-C or
SIGTERM into one line and an exit code (the codes are listed in `pipeline.__main__`)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pipeline import arguments, cluster
from pipeline.errors import PipelineError, Terminated

err = Console(stderr=True, soft_wrap=True)


def checked_root(data: Path | None, year: int | None = None) -> Path:
    """The data root, checked to be a writable directory, and the year, checked to be covered."""
    if year is not None:
        arguments.check_year(year)
    return arguments.check_data(data_root(data))


def data_root(data: Path | None) -> Path:
    """Absolute, so that tasks find the files whatever the working directory of their worker."""
    return (data or Path(os.environ.get("STIMPUTE_DATA", "data"))).resolve()


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=False, disable=not err.is_terminal,
    )  # fmt: skip


def run_command(debug: bool, fn: Callable[[], None]) -> None:
    """Run one command's work: logs to stderr (one plain line per message when not a terminal,
    as cron mail wants), a pipeline error as one red line and its exit code, a traceback only
    with --debug; SIGTERM handled as Ctrl-C, so what cleans up after one cleans up after both."""
    handler: logging.Handler = (
        RichHandler(console=err, show_path=False, show_time=False)
        if err.is_terminal
        else logging.StreamHandler(sys.stderr)
    )
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(message)s",
        handlers=[handler],
        force=True,
    )
    for chatty in ("pyogrio", "fiona", "rasterio"):  # "Created 1 records" per file written
        logging.getLogger(chatty).setLevel(logging.DEBUG if debug else logging.WARNING)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        fn()
    except PipelineError as exc:
        if debug:
            raise
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(exc.exit_code) from None
    except Terminated:
        err.print(
            "stopped (SIGTERM): nothing half-written was kept; run the same command to resume"
        )
        raise typer.Exit(143) from None
    except KeyboardInterrupt:
        err.print("interrupted: nothing half-written was kept; run the same command to resume")
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


# the options more than one command takes, defined once
REGION = typer.Option(..., help="a region of catalogs/regions.toml")
YEAR = typer.Option(..., help="calendar year")
DATA = typer.Option(None, help="data root (default $STIMPUTE_DATA or ./data)")
DEBUG = typer.Option(False, help="tracebacks and debug logs")
SOURCE = typer.Option(
    "earthdata", envvar="STIMPUTE_SOURCE", help="earthdata (needs a login) or sample (offline)"
)
TILE_SIZE = typer.Option(36, help="tile side in pixels (1 km)")
OVERLAP = typer.Option(4, help="pixels shared by neighbouring tiles (blended)")
DEVICE = typer.Option(
    "auto", envvar="STIMPUTE_DEVICE", help="auto (CUDA when present), cpu or cuda"
)
BUDGET = typer.Option(
    None,
    envvar="STIMPUTE_TRAIN_BUDGET",
    help="seconds of training when no region checkpoint exists (default 600)",
)
HOLDOUT = typer.Option(0.05, help="share of observed values held out to check the run (0 to skip)")
HOLDOUT_BY = typer.Option(
    "block",
    help="hold out whole 36 km blocks on a day (block: like a missed overpass) or single values (point)",
)
BASELINES = typer.Option(
    "mean,linear,dctpls", help="baselines compared on the check values, or none"
)
SEED = typer.Option(0, help="seed of the held-out choice and of training")
CRS_OPT = typer.Option(
    None, envvar="STIMPUTE_CRS", help="also reproject the daily GeoTIFFs, e.g. EPSG:4326"
)
SCHEDULER = typer.Option(
    None, envvar=cluster.ENV_SCHEDULER,
    help="address of a running dask scheduler (tcp://host:8786); default: a local cluster",
)  # fmt: skip
WAIT = typer.Option(
    False,
    "--wait",
    help="if another run is processing this region-year, wait for it (default: exit 75)",
)
WORKERS = typer.Option(
    None, help="local dask workers (default: one per GPU, else sized to the cores; 0: no dask)"
)
