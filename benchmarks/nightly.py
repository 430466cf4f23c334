"""What a scheduled night redoes, and how long it takes against the full run.

On a region-year already filled from the sample: (0) the fill and export made again from nothing
with the model already trained (the reference, on the same code: the products carry the code
version, so a reference made by other code would make every day's COG differ), (1) a night with
nothing new, then (2) a night after one SPL2SMAP_S scene was reissued (the same values under the
next counter, as a data centre reissues).

The year in progress, replayed (STIMPUTE_TODAY) in its own data root `<data>/in-progress`: a
first night through `--night` (it downloads, builds and trains; not timed), (3) its fill and
export made again from nothing (the reference), then (4) the next night, when the sample has
published one more day (published before the run is timed: the data centre's work is not the
user's).

Each is `python -m pipeline fill ...` as a cron job runs it. The whole chain's seconds (download
to export, from `results/scale.json`) are reported beside.

    python benchmarks/nightly.py --region central_texas --data /tmp/bench/data2 --workers 2

Writes `<out>.json` and `<out>.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from scale import run_stage


def night(
    region: str, data: Path, workers: int, budget: float, log: Path, today: str | None = None
) -> dict[str, Any]:
    """One `fill` run (on the night of `today`, when given): its wall seconds and peak memory,
    and what each stage redid."""
    env = {**os.environ, "STIMPUTE_SOURCE": "sample"}
    if today:
        env["STIMPUTE_TODAY"] = today
    args = ["fill", "--region", region, "--year", "2022", "--source", "sample", "--data",
            str(data), "--workers", str(workers), "--budget", str(budget)]  # fmt: skip
    folder = data / region / "2022"
    records = [folder / "cube.json", folder / "fill.json", folder / "export" / "export.json"]
    before = [p.stat().st_mtime_ns if p.exists() else None for p in records]
    m: dict[str, Any] = run_stage(args, env, log)
    # a stage that found nothing to do leaves its record as it was: it redid nothing
    cube, fill, export = (
        json.loads(p.read_text()) if p.stat().st_mtime_ns != t else None
        for p, t in zip(records, before, strict=True)
    )
    m["cube_blocks_rebuilt"] = cube["rebuilt_blocks"] if cube else 0
    m["fill"] = "none" if fill is None else ("refill" if fill.get("refill") else "full")
    m["refill"] = fill.get("refill") if fill else None
    m["fill_seconds"] = fill["seconds"]["total"] if fill else 0.0
    m["export_files_written"] = export["written"] if export else 0
    m["cogs_written"] = export.get("cogs_written") if export else 0
    return m


def _row(name: str, m: dict[str, Any], full: float | None) -> str:
    share = f"{100 * m['seconds'] / full:.1f}%" if full else "n/a"
    r = m["refill"] or {}
    days = (
        f"{r['days_changed']} / {r['days_rewritten']}"
        if r
        else ("0 / 0" if m["fill"] == "none" else "all / all")
    )
    return (
        f"| {name} | {m['seconds']:.1f} | {share} | {m['cube_blocks_rebuilt']} | {m['fill']} | "
        f"{days} | {m['fill_seconds']:.1f} | {m['cogs_written']} |"
    )


def clear_products(folder: Path) -> None:
    """Remove the fill (finished tiles of a stopped one included) and the export, so the next
    run makes them from nothing."""
    for name in (
        "filled.zarr",
        "filled.zarr.part",
        "fill.parts",
        "fill.json",
        "prior.zarr",
        "truth.npz",
        "export",
    ):
        made = folder / name
        shutil.rmtree(made) if made.is_dir() else made.unlink(missing_ok=True)


def year_in_progress(
    region: str, data: Path, workers: int, budget: float, log: Path, first: date
) -> dict[str, Any]:
    """Nights (3) and (4): the reference and one new day, on the year in progress."""
    from pipeline.catalog import region as region_of
    from pipeline.sources.sample import SampleSource

    root, nights = (
        data / "in-progress",
        [first.isoformat(), (first + timedelta(days=1)).isoformat()],
    )
    shutil.rmtree(root, ignore_errors=True)  # a replay starts from nothing: time runs forward
    night(region, root, workers, budget, log, nights[0])  # download, cube, train: set-up
    clear_products(root / region / "2022")
    again = night(region, root, workers, budget, log, nights[0])
    os.environ["STIMPUTE_TODAY"] = nights[1]  # the data centre publishes the next day
    SampleSource(root / "sample-archive").ensure(region_of(region), 2022)
    del os.environ["STIMPUTE_TODAY"]
    time.sleep(1.0)  # the listing since the last run sees the new files' times
    new_day = night(region, root, workers, budget, log, nights[1])
    return {"nights": nights, "fill_and_export_again": again, "one_new_day": new_day}


def full_seconds(region: str, workers: int, scale: Path) -> float | None:
    """The region's full run from the scale benchmark: every stage, the fill without training."""
    if not scale.exists():
        return None
    rows = json.loads(scale.read_text())["rows"]
    row = next((r for r in rows if r["region"] == region), None)
    if row is None:
        return None
    stages = row["stages"]
    fill = stages.get(f"impute_{workers}w", {})
    total = sum(stages[k]["seconds"] for k in ("download", "cube", "tile", "export") if k in stages)
    return round(total + fill.get("seconds_without_training", 0.0), 1)


def complete_year(
    region: str, data: Path, workers: int, budget: float, log: Path
) -> dict[str, Any]:
    """Nights (0) to (2): the reference, nothing new, one scene reissued."""
    from pipeline.catalog import region as region_of
    from pipeline.sources.sample import SampleSource

    if not (data / region / "2022" / "model").exists():
        night(region, data, workers, budget, log)  # download, cube, training: set-up, not timed
    clear_products(data / region / "2022")
    again = night(region, data, workers, budget, log)
    quiet = night(region, data, workers, budget, log)
    archive = SampleSource(data / "sample-archive")
    published = archive.folder(region_of(region), 2022)
    raw = data / region / "2022" / "raw" / "SPL2SMAP_S"

    def reissued(p: Path) -> bool:  # by an earlier run, in the archive or already downloaded
        second = p.name.replace("_001.h5", "_002.h5")
        return (published / second).exists() or (raw / second).exists()

    scenes = sorted(p.name for p in published.glob("SMAP_L2_SM_SP_*_001.h5") if not reissued(p))
    scene = scenes[len(scenes) // 2]  # one of mid-year
    archive.reissue(region_of(region), 2022, scene)
    time.sleep(1.0)  # the listing since the last run sees the new file's time
    reissue = night(region, data, workers, budget, log)
    return {
        "fill_and_export_again": again,
        "nothing_new": quiet,
        "reissued_scene": {"scene": scene, **reissue},
    }


HEADER = (
    "| night | wall s | share of the full run | cube blocks rebuilt | fill | days rerun / "
    "rewritten | fill s | COGs written |\n|---|---|---|---|---|---|---|---|"
)


def report(result: dict[str, Any]) -> str:
    """The markdown of both parts (each with its own date and code)."""
    lines = [f"# A night's run, {result['region']} 2022 ({result['workers']} workers)\n"]
    done = result.get("complete_year")
    if done:
        ref = done["fill_and_export_again"]["seconds"]
        lines += [
            f"Measured {done['measured']} at `{done['code']}`; `python benchmarks/nightly.py "
            f"--region {result['region']}`; shares of the first row's run; the whole chain (scale "
            f"benchmark, download to export, fill without training) takes "
            f"{result['full_chain_seconds']} s.\n",
            HEADER,
            _row("fill and export again (model trained)", done["fill_and_export_again"], ref),
            _row("nothing new", done["nothing_new"], ref),
            _row(
                f"one scene reissued ({done['reissued_scene']['scene']})",
                done["reissued_scene"],
                ref,
            ),
            "",
        ]
    growing = result.get("year_in_progress")
    if growing:
        first, ref = growing["nights"][0], growing["fill_and_export_again"]["seconds"]
        lines += [
            f"The year in progress, replayed on the nights of {first} and {growing['nights'][1]} "
            f"(STIMPUTE_TODAY), measured {growing['measured']} at `{growing['code']}`; shares of "
            "this table's first row.\n",
            HEADER,
            _row(
                f"fill and export again through {first} (model trained)",
                growing["fill_and_export_again"],
                ref,
            ),
            _row("one new day", growing["one_new_day"], ref),
        ]
    return "\n".join(lines) + "\n"


PARTS = ("complete", "in-progress")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--region", default="central_texas")
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--budget", type=float, default=120.0, help="as the full run trained with")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/nightly"))
    ap.add_argument(
        "--night", default="2022-12-04", help="the year in progress's first replayed night"
    )
    ap.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="which to measure (the other keeps its earlier result): " + ", ".join(PARTS),
    )
    a = ap.parse_args()
    from pipeline.provenance import code_version

    parts = a.parts.split(",")
    if not set(parts) <= set(PARTS):
        raise SystemExit(f"--parts {a.parts}: give some of {', '.join(PARTS)}")
    log = a.out.with_suffix(".log")
    path = a.out.with_suffix(".json")
    result = json.loads(path.read_text()) if path.exists() else {}
    if result.get("region") != a.region or result.get("workers") != a.workers:
        result = {}
    stamp = {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "code": code_version().removeprefix("git:"),
    }
    if "complete" in parts:
        done = complete_year(a.region, a.data, a.workers, a.budget, log)
        result["complete_year"] = {**stamp, **done}
    if "in-progress" in parts:
        first = date.fromisoformat(a.night)
        growing = year_in_progress(a.region, a.data, a.workers, a.budget, log, first)
        result["year_in_progress"] = {**stamp, **growing}
    result |= {
        "region": a.region,
        "workers": a.workers,
        "full_chain_seconds": full_seconds(
            a.region, a.workers, Path(__file__).parent / "results" / "scale.json"
        ),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    a.out.with_suffix(".md").write_text(report(result))
    print(report(result))


if __name__ == "__main__":
    main()
