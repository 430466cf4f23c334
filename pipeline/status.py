"""Where a region-year stands, for people and for monitoring: per stage, whether its output is
current, stale (and why) or missing, read from what each stage recorded, without doing any work
or touching the network; and the last run's start, end, outcome and what it changed.

Every run records itself in `DATA/<region>/.<year>.last-run.json` (beside the run lock, not
among the products, so a run that finds everything current still writes no product).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.catalog import Region
from pipeline.cube_keys import RETRY, block_keys, previous_build
from pipeline.files import read_record, replacing
from pipeline.run_lock import one_run
from pipeline.run_log import run_log
from pipeline.tile import TILE_FORMAT, fingerprint
from pipeline.train import find, region_models
from pipeline.year import in_progress, through

CURRENT, STALE, MISSING = "current", "stale", "missing"
RECORDS = {  # the record each stage keeps, relative to the region-year folder
    "download": "raw/manifest.json",
    "cube": "cube.zarr",
    "tile": "tiles.json",
    "fill": "fill.json",
    "export": "export/export.json",
}


@dataclass(frozen=True)
class StageState:
    stage: str
    state: str  # current, stale or missing
    why: str  # what makes it stale or missing, or what it holds


def last_run_path(root: Path, region: str, year: int) -> Path:
    return root / region / f".{year}.last-run.json"


def stage_states(root: Path, reg: Region, year: int) -> list[StageState]:
    """Each stage's state, judged from the records as the stages themselves judge them."""
    folder = root / reg.name / str(year)
    manifest = read_record(folder / RECORDS["download"])
    out: list[StageState] = []
    granules = manifest.get("granules", {})
    if not granules:
        out.append(StageState("download", MISSING, "no granule downloaded: run the download"))
        return out + [StageState(s, MISSING, "waits on the download") for s in list(RECORDS)[1:]]
    out.append(
        StageState(
            "download",
            CURRENT,
            f"{len(granules)} granules from {manifest.get('source', '?')} "
            "(new or reissued ones are found by the next run's listing)",
        )
    )
    build = previous_build(folder / RECORDS["cube"])
    cube_fp = build.get("fingerprint")
    if not cube_fp:
        out.append(StageState("cube", MISSING, "no cube: run the cube stage"))
    else:
        keys = block_keys(manifest, reg, year, bool(build.get("strict", False)))
        wanted = hashlib.sha256("".join(keys).encode()).hexdigest()
        old = build.get("blocks") or []
        retry = sum(str(k).endswith(RETRY) for k in old)
        changed = sum(a.removesuffix(RETRY) != b for a, b in zip(old, keys, strict=False))
        changed += abs(len(old) - len(keys))
        if wanted == cube_fp:
            days = int((build.get("shape") or [0])[0])
            held = f"{days} days in {len(keys)} blocks of 32"
            if in_progress(year):
                held += f", the year in progress through {through(year, days)}"
            out.append(StageState("cube", CURRENT, held))
        elif changed:
            out.append(
                StageState("cube", STALE, f"{changed} block(s) changed in the downloaded granules")
            )
        else:
            out.append(
                StageState(
                    "cube", STALE, f"{retry} block(s) skipped an unreadable granule: retried"
                )
            )
    tiles = read_record(folder / RECORDS["tile"])
    if not tiles:
        out.append(StageState("tile", MISSING, "no tile index: run the tile stage"))
    else:
        key = fingerprint(TILE_FORMAT, cube_fp, tiles.get("size"), tiles.get("overlap"))
        out.append(
            StageState("tile", CURRENT, f"{tiles.get('tiles')} tiles of {tiles.get('size')} px")
            if key == tiles.get("fingerprint")
            else StageState("tile", STALE, "the cube changed since the tiles were cut")
        )
    out.append(_fill_state(root, reg, folder, cube_fp, tiles.get("fingerprint")))
    out.append(_export_state(folder))
    return _follow_upstream(out)


def _follow_upstream(states: list[StageState]) -> list[StageState]:
    """A stage's output is only as current as the stages before it: one found current behind a
    stale or missing stage is stale, since the next run rebuilds it after that stage."""
    out: list[StageState] = []
    behind: StageState | None = None
    for s in states:
        if s.state == CURRENT and behind is not None:
            s = StageState(
                s.stage, STALE, f"follows the {behind.stage} stage, which is {behind.state}"
            )
        elif s.state != CURRENT and behind is None:
            behind = s
        out.append(s)
    return out


def _fill_state(
    root: Path, reg: Region, folder: Path, cube_fp: str | None, tiles_fp: str | None
) -> StageState:
    from pipeline.fill import FILL_FORMAT

    fill = read_record(folder / RECORDS["fill"])
    if not fill or not (folder / "filled.zarr").exists():
        return StageState("fill", MISSING, "no filled cube: run the fill")
    inputs = fill.get("inputs", {})
    if not inputs:
        return StageState("fill", STALE, "made by an older version (no record of its inputs)")
    region_ckpt = find(region_models(root, reg.name))
    why = [
        text
        for wrong, text in (
            (inputs.get("format") != FILL_FORMAT, "the fill's format changed"),
            (inputs.get("cube") != cube_fp, "the cube changed"),
            (inputs.get("tiles") != tiles_fp, "the tiles changed"),
            (
                region_ckpt is not None and region_ckpt.digest != inputs.get("model"),
                "the region has a checkpoint the fill did not use",
            ),
        )
        if wrong
    ]
    if why:
        return StageState("fill", STALE, "; ".join(why))
    values = fill.get("values", {})
    return StageState("fill", CURRENT, f"{values.get('filled', 0):,} values filled")


def _export_state(folder: Path) -> StageState:
    from pipeline.export import EXPORT_FORMAT, NATIVE_CRS

    record = read_record(folder / RECORDS["export"])
    fill = read_record(folder / RECORDS["fill"])
    if not record:
        return StageState("export", MISSING, "nothing exported: run the export")
    crs = record.get("crs")
    asked = None if crs == NATIVE_CRS else crs  # the export's key holds the --crs asked for
    if record.get("fingerprint") != fingerprint(EXPORT_FORMAT, fill.get("fingerprint"), asked):
        return StageState("export", STALE, "the fill changed since the export")
    export = folder / "export"
    missing = [
        n for n in (record.get("netcdf"), record.get("stac")) if n and not (export / n).exists()
    ]
    cogs = len(list(export.glob("cog/*.tif"))) if (export / "cog").is_dir() else None
    if missing or (cogs is not None and cogs < record.get("cogs", 0)):
        return StageState("export", STALE, "files are missing: the next run rewrites them")
    return StageState("export", CURRENT, f"{record.get('cogs')} COGs, the NetCDF and STAC")


def status(root: Path, reg: Region, year: int) -> dict[str, Any]:
    """The stages' states and the last run, as plain values (what `status --json` prints)."""
    return {
        "region": reg.name,
        "year": year,
        "stages": [asdict(s) for s in stage_states(root, reg, year)],
        "last_run": read_record(last_run_path(root, reg.name, year)) or None,
    }


def _snapshot(folder: Path) -> dict[str, Any]:
    """When each stage's record was last written (a stage that did work rewrites its record; one
    that found its output current writes nothing), so what a run changed is what moved."""
    out: dict[str, Any] = {}
    for stage, name in RECORDS.items():
        try:
            out[stage] = (folder / name).stat().st_mtime_ns
        except OSError:
            out[stage] = None
    return out


@contextmanager
def recorded_run(
    root: Path, region: str, year: int, command: str, log_file: Path | None = None
) -> Iterator[None]:
    """Record the run that runs the body (hold the run lock around it): start, end, outcome and
    the stages whose records changed."""
    folder = root / region / str(year)
    started = time.time()
    before = _snapshot(folder)
    outcome = "failed"
    try:
        yield
        outcome = "done"
    except KeyboardInterrupt:
        outcome = "interrupted"
        raise
    except Exception as exc:
        outcome = f"failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        raise
    finally:
        after = _snapshot(folder)
        record = {
            "command": command,
            "started": _utc(started),
            "ended": _utc(time.time()),
            "outcome": outcome,
            "changed": [s for s in RECORDS if before.get(s) != after.get(s)],
            "log": None if log_file is None else str(log_file),
        }
        path = last_run_path(root, region, year)
        try:
            with replacing(path) as tmp:
                tmp.write_text(json.dumps(record, indent=1))
        except OSError:  # a run is not failed for want of its record
            pass


@contextmanager
def year_run(root: Path, region: str, year: int, command: str, *, wait: bool) -> Iterator[None]:
    """A command that writes a region-year: the run lock, then the run's record."""
    line = _command_line(f"{command} --region {region} --year {year}")
    with (
        one_run(root, region, str(year), wait=wait),
        run_log(root, region, year, command) as log_file,
        recorded_run(root, region, year, line, log_file),
    ):
        yield


def _command_line(short: str) -> str:
    """The command line as typed when this process is the pipeline's CLI, else `short`."""
    main = Path(sys.argv[0]) if sys.argv else Path()
    if main.name == "__main__.py" and main.parent.name == "pipeline":
        return " ".join(["python -m pipeline", *sys.argv[1:]])
    return f"python -m pipeline {short}"


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
