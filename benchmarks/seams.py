"""Seams in a filled product: the mean absolute step between neighbouring filled pixels across
tile edges and across 9 km cell edges, against the step between neighbours elsewhere. A ratio
near 1 means no seam. A small region's truth need not have exactly 1.0 on the pixels a run
filled, so for a run of the sample source `--truth` scores the sample's truth on the same pixels
(`truth_...` keys): a fill's ratio is judged against that one.

    python benchmarks/seams.py data/central_texas/2022 [--truth] [--out benchmarks/results/seams-central_texas.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xarray as xr

from pipeline.grid import factor
from stimpute.metrics import cell_edges, neighbour_steps


def edge_lines(starts: list[int], ends: list[int], n: int) -> np.ndarray:
    """(n - 1,) True where the step between index i and i + 1 crosses a tile edge."""
    out = np.zeros(max(0, n - 1), bool)
    for e in {*starts, *ends}:
        if 0 < e < n:
            out[e - 1] = True
    return out


def sample_truth(folder: Path) -> Iterator[np.ndarray]:
    """The sample's true soil moisture, one day at a time, for a run folder DATA/REGION/YEAR."""
    from pipeline.catalog import region
    from pipeline.sources.sample import truth

    return truth(region(folder.parent.name), int(folder.name))


def seam_ratios(
    folder: Path, every: int = 1, block: int = 32, truth: Iterator[np.ndarray] | None = None
) -> dict[str, float]:
    """Seam ratios over every `every`-th day, read `block` days at a time (a state's year does
    not fit in memory as float64). With `truth` (one array per day of the year), also its
    ratios on the pixels the run filled, in the same pass (`truth_...` keys)."""
    import geopandas as gpd

    ds = xr.open_zarr(folder / "filled.zarr")
    tiles = gpd.read_parquet(folder / "tiles.parquet")
    row0, col0 = int(ds.attrs["ease_row0"]), int(ds.attrs["ease_col0"])
    h, w = ds.sizes["y"], ds.sizes["x"]
    sums: dict[str, list[float]] = {}
    for t0 in range(0, ds.sizes["time"], block):
        end = min(t0 + block, ds.sizes["time"])
        days = [d for d in range(t0, end) if d % every == 0]  # every n-th day of the year
        read = [] if truth is None else list(itertools.islice(truth, end - t0))
        if not days:
            continue
        fields = {"": ds["soil_moisture"].isel(time=days).values.astype(np.float64)}
        if truth is not None:
            fields["truth_"] = np.stack([read[d - t0] for d in days]).astype(np.float64)
        flag = ds["flag"].isel(time=days).values
        for (prefix, sm), (axis, n, starts, ends, origin) in itertools.product(
            fields.items(),
            (
                (2, w, list(tiles["col"]), list(tiles["col"] + tiles["width"]), col0),
                (1, h, list(tiles["row"]), list(tiles["row"] + tiles["height"]), row0),
            ),
        ):
            d, ok = neighbour_steps(sm, flag == 2, axis)
            tile_edge = edge_lines(starts, ends, n)
            cell_edge = cell_edges(n, factor("1km", "9km"), origin)
            shape = [1, 1, 1]
            shape[axis] = n - 1
            te, ce = tile_edge.reshape(shape), cell_edge.reshape(shape)
            name = "x" if axis == 2 else "y"
            for key, where in (
                (f"inside_{name}", ok & ~te & ~ce),
                (f"tile_edge_{name}", ok & te),
                (f"cell_9km_edge_{name}", ok & ce & ~te),
            ):
                acc = sums.setdefault(prefix + key, [0.0, 0])
                acc[0] += float(d[where].sum())
                acc[1] += int(where.sum())
    out: dict[str, float] = {}
    for prefix, name in itertools.product(("", "truth_") if truth is not None else ("",), "xy"):
        total, count = sums[f"{prefix}inside_{name}"]
        base = total / count if count else float("nan")
        out[f"{prefix}inside_{name}"] = base
        for kind in ("tile_edge", "cell_9km_edge"):
            total, count = sums[f"{prefix}{kind}_{name}"]
            if count:
                out[f"{prefix}{kind}_ratio_{name}"] = total / count / base
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "folder", type=Path, help="DATA/REGION/YEAR holding filled.zarr and tiles.parquet"
    )
    ap.add_argument("--out", type=Path)
    ap.add_argument("--every", type=int, default=1, help="every n-th day (1: all)")
    ap.add_argument(
        "--truth", action="store_true", help="also the sample's truth on the same pixels"
    )
    a = ap.parse_args()
    res = seam_ratios(a.folder, a.every, truth=sample_truth(a.folder) if a.truth else None)
    for k, v in res.items():
        print(f"{k:<30} {v:.4f}")
    if a.out:
        a.out.write_text(json.dumps({"folder": str(a.folder), **res}, indent=1))


if __name__ == "__main__":
    main()
