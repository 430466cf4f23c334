"""Crash safety, measured: the sample chain (txson 2022, download to export) run as a subprocess
and killed with SIGKILL at N moments spread over its whole run; after each kill a rerun must
complete and leave exactly what an uninterrupted run leaves: the same files, the same filled
cube, the same pixels in every COG, the same NetCDF variables and STAC items, and nothing
half-written (`.part`, `.old`, `fill.parts`).

    python benchmarks/crash.py --kills 50 --out benchmarks/results/crash   # make bench-crash

Every run fills with one region checkpoint trained first (`pipeline train`), so reruns are
comparable value for value: a fill that trained its own model for a time budget would train a
different one each time. `tests/pipeline/test_crash_recovery.py` runs the same harness with a
few kills.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr

REGION, YEAR = "txson", "2022"
LEFTOVERS = ("*.part", "*.partial", "*.old", "fill.parts", "*.tmp")


def _command(data: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "pipeline", "fill", "--region", REGION, "--year", YEAR,
        "--source", "sample", "--data", str(data), "--size", "16", "--overlap", "4",
        "--baselines", "none", "--workers", "0", *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "STIMPUTE_SOURCE": "sample"}


def prepare(work: Path, archive: Path | None) -> Path:
    """A data folder holding the sample archive (a link to `archive` when given) and a region
    checkpoint for txson; returns it, to be copied as the start of every run."""
    seed = work / "seed"
    seed.mkdir(parents=True)
    if archive is not None:
        (seed / "sample-archive").symlink_to(archive)
    train = [
        sys.executable, "-m", "pipeline", "train", "--region", REGION, "--years", YEAR,
        "--source", "sample", "--data", str(seed), "--budget", "3", "--area", "36",
        "--device", "cpu",
    ]  # fmt: skip
    subprocess.run(train, env=_env(), check=True, capture_output=True)
    shutil.rmtree(seed / REGION, ignore_errors=True)  # the runs start with no year downloaded
    shutil.rmtree(seed / "logs", ignore_errors=True)
    return seed


def _fresh(seed: Path, to: Path) -> Path:
    shutil.copytree(seed, to, symlinks=True)
    return to


def run_to_end(data: Path) -> tuple[int, float, str]:
    """Run the chain to its end: (exit code, seconds, its output)."""
    start = time.perf_counter()
    res = subprocess.run(_command(data), env=_env(), capture_output=True, text=True)
    return res.returncode, time.perf_counter() - start, res.stdout + res.stderr


def kill_after(data: Path, seconds: float) -> str:
    """Start the chain and SIGKILL its whole process group after `seconds`; returns the stage it
    was in (the last stage its output names), or "finished" when it ended first."""
    log = data / "killed-run.out"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            _command(data), env=_env(), stdout=out, stderr=out, start_new_session=True
        )
        try:
            proc.wait(timeout=seconds)
            return "finished"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    said = log.read_text()
    log.unlink()
    stages = ("download", "cube", "tile", "train", "impute", "fill", "export")
    done = [s for s in stages if f"{s} {REGION} {YEAR}" in said]
    following = {"download": "cube", "cube": "tile", "tile": "fill", "impute": "export"}
    return following.get(done[-1], "export") if done else "download"


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def differences(ref: Path, got: Path) -> list[str]:
    """What differs between two region-year folders: files present, the filled cube's values,
    every COG's pixels, the NetCDF's variables, the STAC JSON; empty when they are the same."""
    out: list[str] = []
    a, b = _files(ref), _files(got)
    if a != b:
        out.append(
            f"files only in the reference: {sorted(a - b)[:5]}; only after the crash: {sorted(b - a)[:5]}"
        )
    for name in ("filled.zarr", "export/" + f"{REGION}_{YEAR}.nc"):
        if not (got / name).exists():
            continue
        x = xr.open_dataset(ref / name, engine=None if name.endswith(".nc") else "zarr")
        y = xr.open_dataset(got / name, engine=None if name.endswith(".nc") else "zarr")
        for var in x.data_vars:
            if var not in y or not np.array_equal(x[var].values, y[var].values, equal_nan=True):
                out.append(f"{name}: {var} differs")
        x.close()
        y.close()
    for cog in sorted((ref / "export" / "cog").glob("*.tif")):
        other = got / "export" / "cog" / cog.name
        if other.exists():
            with rasterio.open(cog) as s, rasterio.open(other) as t:
                if not np.array_equal(s.read(), t.read(), equal_nan=True):
                    out.append(f"cog/{cog.name}: pixels differ")
    for item in sorted(ref.glob("export/**/*.json")):
        other = got / item.relative_to(ref)
        if (
            other.exists()
            and item.name != "export.json"  # the stage's record holds its own times
            and json.loads(item.read_text()) != json.loads(other.read_text())
        ):
            out.append(f"{item.relative_to(ref)} differs")
    return out


def leftovers(data: Path) -> list[str]:
    return sorted(str(p.relative_to(data)) for pat in LEFTOVERS for p in data.rglob(pat))


@dataclass
class Kill:
    at_s: float
    stage: str
    rerun_exit: int = -1
    rerun_s: float = 0.0
    differences: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    @property
    def recovered(self) -> bool:
        return self.rerun_exit == 0 and not self.differences and not self.leftovers


def harness(work: Path, kills: int, archive: Path | None = None, progress=print) -> dict:
    """Two uninterrupted runs (which must agree), then `kills` runs killed at moments spread
    evenly over that length, each rerun to the end and compared with the first."""
    seed = prepare(work, archive)
    ref = _fresh(seed, work / "reference")
    code, first, said = run_to_end(ref)
    if code != 0:
        raise SystemExit(f"the uninterrupted run failed (exit {code}):\n{said[-2000:]}")
    again = _fresh(seed, work / "again")  # a second uninterrupted run: the chain's own spread
    code, total, said = run_to_end(again)
    if code != 0 or differences(ref / REGION / YEAR, again / REGION / YEAR):
        raise SystemExit("two uninterrupted runs differ: the comparison would mean nothing")
    shutil.rmtree(again)
    total = 0.95 * min(first, total)  # kills land inside a run, not after its end
    progress(f"uninterrupted runs: {first:.1f} s, then {total / 0.95:.1f} s, the same output")
    rows: list[Kill] = []
    for i in range(kills):
        data = _fresh(seed, work / f"kill-{i:03d}")
        at = total * (i + 0.5) / kills
        k = Kill(at_s=round(at, 2), stage=kill_after(data, at))
        if k.stage == "finished":  # runs are faster now than when timed: kill the rest earlier
            total = min(total, 0.9 * at * kills / (i + 1.5))  # the next one at 0.9 x this one
        k.rerun_exit, k.rerun_s, said = run_to_end(data)
        k.rerun_s = round(k.rerun_s, 1)
        if k.rerun_exit == 0:
            k.differences = differences(ref / REGION / YEAR, data / REGION / YEAR)
        else:
            k.differences = [said.strip().splitlines()[-1] if said.strip() else "no output"]
        k.leftovers = leftovers(data)
        rows.append(k)
        progress(
            f"kill {i + 1}/{kills} at {k.at_s:.1f} s ({k.stage}): "
            + ("recovered" if k.recovered else f"NOT recovered: {k.differences + k.leftovers}")
        )
        shutil.rmtree(data)
    return {
        "reference_s": round(first, 1),
        "kills_over_s": round(total, 1),
        "kills": [asdict(k) | {"recovered": k.recovered} for k in rows],
        "recovered": sum(k.recovered for k in rows),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--work", type=Path, default=Path("data/bench-crash"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/crash"))
    a = ap.parse_args()
    from pipeline.provenance import code_version

    version = code_version().removeprefix("git:")  # before this run writes its own results
    shutil.rmtree(a.work, ignore_errors=True)
    result = harness(a.work, a.kills)
    result["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    result["code"] = version
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    by_stage: dict[str, list[bool]] = {}
    for k in result["kills"]:
        by_stage.setdefault(k["stage"], []).append(k["recovered"])
    lines = [
        "| stage killed in | kills | recovered |",
        "|---|---|---|",
        *(f"| {s} | {len(v)} | {sum(v)} |" for s, v in by_stage.items()),
        f"| **all** | {len(result['kills'])} | **{result['recovered']}** |",
    ]
    a.out.with_suffix(".md").write_text(
        f"# Crash safety\n\nMeasured {result['measured']}; `python benchmarks/crash.py --kills "
        f"{a.kills}` at `{version}`: the txson 2022 sample chain ({result['reference_s']} s "
        "uninterrupted) "
        "killed with SIGKILL, then rerun and compared with an uninterrupted run.\n\n"
        + "\n".join(lines)
        + "\n"
    )
    print("\n".join(lines))
    if result["recovered"] < len(result["kills"]):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
