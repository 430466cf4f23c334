"""How the pipeline's cost grows with area: each stage of each region run as its own process on the
sample, timed, its peak memory sampled over the whole process tree (dask workers included), its
output measured on disk. Writes `<out>.json` and `<out>.md`.

    python benchmarks/scale.py --regions txson,central_texas,texas_360 --out benchmarks/results/scale

The fill stage runs with each worker count of --workers (default 1,2) on the same checkpoint
(trained once per region, its seconds reported apart: "training budget aside").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

STAGES = ("download", "cube", "tile", "impute", "export")
OUTPUTS = {
    "download": "raw",
    "cube": "cube.zarr",
    "tile": "tiles.parquet",
    "impute": "filled.zarr",
    "export": "export",
}


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants now."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):  # gone meanwhile
            total += p.memory_info().rss
    return total


def run_stage(args: list[str], env: dict[str, str], log: Path) -> dict[str, float]:
    """One `python -m pipeline ...` process: wall seconds and peak RSS of its process tree."""
    start = time.perf_counter()
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(args)}\n")
        out.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline", *args], env=env, stdout=out, stderr=out
        )
        ps, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            peak = max(peak, tree_rss(ps))
            time.sleep(0.2)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed (exit {proc.returncode}); see {log}")
    return {"seconds": round(time.perf_counter() - start, 1), "peak_rss_mb": round(peak / 2**20, 1)}


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def bench_region(
    name: str,
    data: Path,
    stages: list[str],
    workers: list[int],
    budget: float,
    log: Path,
    save: Callable[[dict[str, Any]], None],
    earlier: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One region's row; `save` gets the row after every stage, so a run stopped half-way keeps
        the stages it finished (the row says `complete: false` until every stage is measured). Stages
    not in `stages` keep their measurements from `earlier` (each stage records its date and commit)."""
    from pipeline.catalog import region
    from pipeline.provenance import code_version

    grid = region(name).grid
    measured = {f"impute_{n}w" for n in workers}
    folder = data / name / "2022"
    common = ["--region", name, "--year", "2022", "--data", str(data)]
    env = {**os.environ, "STIMPUTE_SOURCE": "sample"}
    row: dict[str, Any] = {
        "region": name,
        "shape": list(grid.shape),
        "stages": {  # what this run measures again: its stages (the fill at its worker counts)
            k: v
            for k, v in (earlier or {}).get("stages", {}).items()
            if k.split("_")[0] not in stages or (k.startswith("impute_") and k not in measured)
        },
        "complete": False,
    }
    pixel_days = 365 * grid.height * grid.width
    row["pixel_days"] = pixel_days
    for stage in [s for s in STAGES if s in stages]:
        extra = {"download": ["--source", "sample"], "impute": ["--budget", str(budget)]}.get(
            stage, []
        )
        runs = workers if stage == "impute" else [None]
        for n in runs:
            # what the stage would find up to date is removed: each row is a build from nothing
            # (the download's includes the sample archive's simulation, as a first run's does)
            stale = {
                "download": [folder / "raw", data / "sample-archive" / name / "2022"],
                "cube": [folder / "cube.zarr", folder / "cube.json"],
                "impute": [
                    folder / n for n in ("filled.zarr", "fill.json", "fill.parts", "prior.zarr")
                ],
            }
            for p in stale.get(stage, []):
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
            extra_n = [*extra, "--workers", str(n)] if stage == "impute" else extra
            m: dict[str, Any] = run_stage([stage, *common, *extra_n], env, log)
            key = stage if n is None else f"impute_{n}w"
            m["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            m["commit"] = code_version().removeprefix("git:")
            m["bytes"] = (
                size_of(folder / OUTPUTS[stage]) if (folder / OUTPUTS[stage]).exists() else 0
            )
            if stage == "impute":
                rec = json.loads((folder / "fill.json").read_text())
                m["train_seconds"] = rec["seconds"]["train"]
                m["infer_seconds"] = rec["seconds"]["infer"]
                m["baseline_seconds"] = rec["seconds"]["baselines"]
                m["infer_pixel_days_per_s"] = rec["pixel_days_per_s"]
                m["worker_peak_rss_mb"] = rec.get("worker_peak_memory_mb")
                m["seconds_without_training"] = round(m["seconds"] - rec["seconds"]["train"], 1)
                wall = m["seconds_without_training"]
            else:
                wall = m["seconds"]
            m["pixel_days_per_s"] = round(pixel_days / wall) if wall else None
            row["stages"][key] = m
            save(row)
            print(
                f"{name:>14} {key:<10} {m['seconds']:>8.1f} s {m['peak_rss_mb']:>8.0f} MB",
                flush=True,
            )
    row["complete"] = all(any(k.split("_")[0] == s for k in row["stages"]) for s in STAGES)
    save(row)
    return row


def _count(n: int | None) -> str:
    """A rate, or n/a where the row has none (a fill resumed across runs)."""
    return "n/a" if n is None else f"{n:,}"


def table(rows: list[dict[str, Any]]) -> str:
    keys = [k for k in rows[0]["stages"]] if rows else []
    lines = [
        "| region | grid | stage | wall s | peak RSS MB | pixel-days/s | on disk MB | fill: inference s (pixel-days/s), baselines s | commit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for k in [*keys, *(k for k in r["stages"] if k not in keys)]:
            m = r["stages"].get(k)
            if m is None:
                continue
            wall = m.get("seconds_without_training", m["seconds"])
            lines.append(
                f"| {r['region']} | {r['shape'][0]} x {r['shape'][1]} | {k} | {wall:,.1f} | "
                f"{m['peak_rss_mb']:,.0f} | {_count(m['pixel_days_per_s'])} | {m['bytes'] / 1e6:,.1f} | "
                + (
                    f"{m['infer_seconds']:,.1f} ({m['infer_pixel_days_per_s'] or 0:,}), {m['baseline_seconds']:,.1f} |"
                    if "infer_seconds" in m
                    else " |"
                )
                + f" {m.get('commit', '')} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--regions", default="txson,central_texas,texas_360,texas_720,texas")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument(
        "--stages",
        default=",".join(STAGES),
        help="stages to run; a region's other stages keep their earlier measurements",
    )
    ap.add_argument(
        "--budget", type=float, default=120.0, help="training seconds (once per region)"
    )
    ap.add_argument("--data", type=Path, default=Path("data/bench-scale"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/scale"))
    a = ap.parse_args()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    log = a.out.with_suffix(".log")
    done = (
        json.loads(a.out.with_suffix(".json").read_text())["rows"]
        if a.out.with_suffix(".json").exists()
        else []
    )
    earlier = {r["region"]: r for r in done}
    rows = [r for r in done if r["region"] not in a.regions.split(",")]

    def save(row: dict[str, Any]) -> None:
        current = [r for r in rows if r["region"] != row["region"]] + [row]
        meta = {
            "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cores": psutil.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "rows": current,
        }
        a.out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
        a.out.with_suffix(".md").write_text(
            f"# Scale: cost per stage against area\n\nMeasured {meta['measured']} on {meta['cores']} cores, "
            f"{meta['memory_gb']} GB; `python benchmarks/scale.py` (sample source, one process per stage, "
            "peak RSS of the process tree, fill seconds without training).\n\n"
            + table(current)
            + "\n"
        )

    for name in a.regions.split(","):
        rows.append(
            bench_region(
                name,
                a.data,
                a.stages.split(","),
                [int(w) for w in a.workers.split(",")],
                a.budget,
                log,
                save,
                earlier.get(name),
            )
        )


if __name__ == "__main__":
    main()
