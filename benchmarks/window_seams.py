"""The 4-pixel grid of the spatial attention windows in a filled map, and what averaging the
answers over moved windows does to it: one square of a filled region, filled again from its
checkpoint with each set of window offsets, scored against the sample's truth on its gaps, with
the step between neighbouring gap pixels where the tiles (and the unmoved windows) meet against
the mean step, the largest step of the four places mod 4 against the mean (a grid wherever the
moved windows put it), and the step across 9 km cell edges against the step elsewhere.

    python benchmarks/window_seams.py DATA/central_texas/2022 [--row 36 --col 36 --side 72]
    python benchmarks/window_seams.py DATA/txson/2022 --row 0 --col 0 --side 36   # the demo
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from pipeline.grid import factor
from stimpute.metrics import cell_edges, neighbour_steps


def mean_at(d: np.ndarray, both: np.ndarray, axis: int, where: np.ndarray) -> float:
    """Mean of the steps `d` at the places `where` (along `axis`) between two gap pixels."""
    return float(np.compress(where, d, axis=axis)[np.compress(where, both, axis=axis)].mean())


def ratios(
    values: np.ndarray, gap: np.ndarray, first: tuple[int, int], ease: tuple[int, int]
) -> dict[str, float]:
    """Per axis, between gap neighbours: the step at the tiles' place mod 4 (phase 0; `first`: the
    square's first index on the region grid) over the mean of the four places (`window_edge_*`),
    the largest place's over that mean (`grid_*`: a grid of 4 pixels wherever its edges lie), and
    the step across 9 km cell edges over the step elsewhere (`cell_9km_*`; `ease`: the square's
    first index on the EASE 1 km grid), as seams.py."""
    out = {}
    for name, axis, start, origin in (("x", 2, first[1], ease[1]), ("y", 1, first[0], ease[0])):
        d, both = neighbour_steps(values, gap, axis)
        after = np.arange(1, d.shape[axis] + 1)  # the index of the pixel after each step
        per = [mean_at(d, both, axis, (after + start) % 4 == k) for k in range(4)]
        out[f"window_edge_{name}"] = per[0] / float(np.mean(per))
        out[f"grid_{name}"] = max(per) / float(np.mean(per))
        edge = cell_edges(values.shape[axis], factor("1km", "9km"), origin)
        out[f"cell_9km_{name}"] = mean_at(d, both, axis, edge) / mean_at(d, both, axis, ~edge)
    return out


def main() -> None:
    import zarr

    import stimpute
    from pipeline.catalog import region
    from pipeline.cube import open_cube
    from pipeline.fill_inputs import Features, window_arrays
    from pipeline.sources.sample import truth
    from pipeline.tile import Window

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("folder", type=Path, help="DATA/REGION/YEAR of a fill from the sample source")
    ap.add_argument("--row", type=int, default=36)
    ap.add_argument("--col", type=int, default=36)
    ap.add_argument("--side", type=int, default=72)
    ap.add_argument(
        "--offsets", default="0;1,3;0,2;0,1,2;0,1,2,3", help="offset sets, ';' between sets"
    )
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    meta = json.loads((a.folder / "model" / "model.json").read_text())
    features = Features(tuple(meta["features"]["dynamic"]), tuple(meta["features"]["static"]))
    cube = open_cube(a.folder / "cube.zarr", dask=False)
    w = Window(a.row, a.col, a.side, a.side)
    arr = window_arrays(cube, features, w)
    prior = np.asarray(
        zarr.open_array(str(a.folder / "prior.zarr" / "prior"), mode="r")[:, w.rows, w.cols]
    )
    days = truth(region(a.folder.parent.name), int(a.folder.name))
    true = np.stack([d[w.rows, w.cols] for d in days])
    gap = np.isnan(arr.values)
    ease = (int(cube.attrs["ease_row0"]) + a.row, int(cube.attrs["ease_col0"]) + a.col)
    imp = stimpute.Imputer.load(a.folder / "model" / "st_transformer.pt", device="cpu")
    rows = []
    for text in a.offsets.split(";"):
        offsets = tuple(int(o) for o in text.split(","))
        imp.set_inference(infer_tile=a.side, window_offsets=offsets)
        start = time.perf_counter()
        res = imp.impute(
            arr.values, arr.covariates, arr.static, times=arr.times, prior=prior,
            rain_before=arr.rain_before,
        )  # fmt: skip
        row = {
            "offsets": list(offsets),
            "gap_mae": float(np.abs(res.values - true)[gap].mean()),
            **ratios(res.values, gap, (a.row, a.col), ease),
            "seconds": round(time.perf_counter() - start, 1),
        }
        rows.append(row)
        print(f"offsets {text:9s} gap MAE {row['gap_mae']:.5f}  " + _steps(row) + f"  {row['seconds']:.0f} s",
              flush=True)  # fmt: skip
    truth_row = ratios(true, gap, (a.row, a.col), ease)
    print(f"truth                             {_steps(truth_row)}")
    if a.out:
        a.out.write_text(
            json.dumps(
                {
                    "folder": str(a.folder),
                    "window": [a.row, a.col, a.side],
                    "rows": rows,
                    "truth": truth_row,
                },
                indent=1,
            )
        )


def _steps(row: dict) -> str:
    return (f"tile phase x {row['window_edge_x']:.3f} y {row['window_edge_y']:.3f}  "
            f"grid x {row['grid_x']:.3f} y {row['grid_y']:.3f}  "
            f"9 km x {row['cell_9km_x']:.3f} y {row['cell_9km_y']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
