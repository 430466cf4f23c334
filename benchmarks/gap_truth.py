"""The filled product against the sample's truth on every gap, beside two rules a hydrologist
would try first: each pixel's observations interpolated linearly in time, and the 9 km product
(`sm_9km`, interpolated in time where it is missing) as it is. Small regions only: the year is
held in memory.

    python benchmarks/gap_truth.py data/txson/2022 [--out benchmarks/results/gap-truth-txson.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import xarray as xr


def in_time(values: np.ndarray) -> np.ndarray:
    """(T, H, W) with each pixel's missing steps interpolated linearly between its values (held
    flat before the first and after the last); NaN where a pixel has fewer than two."""
    t = np.arange(values.shape[0])
    out = np.full_like(values, np.nan)
    flat, res = values.reshape(len(t), -1), out.reshape(len(t), -1)
    for i in range(flat.shape[1]):
        ok = np.isfinite(flat[:, i])
        if ok.sum() >= 2:
            res[:, i] = np.interp(t, t[ok], flat[ok, i])
    return out


def scores(folder: Path, region_name: str, year: int) -> dict[str, dict[str, float]]:
    from pipeline.catalog import region
    from pipeline.sources.sample import truth

    cube = xr.open_zarr(folder / "cube.zarr")
    filled = xr.open_zarr(folder / "filled.zarr")
    if cube.sizes["y"] * cube.sizes["x"] > 200 * 200:
        raise SystemExit(f"{folder}: over 200 x 200 pixels; this check holds the year in memory")
    gap = filled["flag"].values == 2
    t = np.stack(list(truth(region(region_name), year))).astype(np.float64)
    methods = {
        "filled product": filled["soil_moisture"].values.astype(np.float64),
        "linear in time": in_time(cube["soil_moisture"].values.astype(np.float64)),
        "sm_9km in time": in_time(cube["sm_9km"].values.astype(np.float64)),
    }
    out = {}
    for name, v in methods.items():
        ok = gap & np.isfinite(v)
        err = v[ok] - t[ok]
        out[name] = {
            "mae": round(float(np.abs(err).mean()), 5),
            "bias": round(float(err.mean()), 5),
            "covered": round(float(ok.sum() / gap.sum()), 4),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("folder", type=Path, help="DATA/REGION/YEAR of a sample run")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    res = scores(a.folder, a.folder.parent.name, int(a.folder.name))
    for name, s in res.items():
        print(
            f"{name:<16} MAE {s['mae']:.4f}  bias {s['bias']:+.4f}  (on {s['covered']:.0%} of the gaps)"
        )
    if a.out:
        a.out.write_text(json.dumps({"folder": str(a.folder), **res}, indent=1))


if __name__ == "__main__":
    main()
