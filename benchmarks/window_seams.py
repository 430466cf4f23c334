"""The 4-pixel grid of the spatial attention windows in a filled map, and what averaging the
answers over moved windows does to it: one square of a filled region, filled again from its
checkpoint with each set of window offsets, scored against the sample's truth on its gaps, with
the step between neighbouring gap pixels where the windows meet against the mean step.

    python benchmarks/window_seams.py DATA/central_texas/2022 [--row 36 --col 36 --side 72]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def edge_ratio(values: np.ndarray, gap: np.ndarray, axis: int, first: int) -> float:
    """Mean |step| between gap neighbours along `axis` where the step is at a multiple of 4 of
    the region grid (`first`: the square's first index there), over the mean of all four phases."""
    n = values.shape[axis]
    d = np.abs(np.diff(values, axis=axis))
    both = np.take(gap, range(n - 1), axis=axis) & np.take(gap, range(1, n), axis=axis)
    phase = (np.arange(n - 1) + 1 + first) % 4
    per = [np.compress(phase == k, d, axis=axis)[np.compress(phase == k, both, axis=axis)].mean()
           for k in range(4)]  # fmt: skip
    return float(per[0] / np.mean(per))


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
    ap.add_argument("--offsets", default="0;0,2;0,1,2,3", help="offset sets, ';' between sets")
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
    imp = stimpute.Imputer.load(a.folder / "model" / "st_transformer.pt", device="cpu")
    rows = []
    for text in a.offsets.split(";"):
        offsets = tuple(int(o) for o in text.split(","))
        imp.set_inference(infer_tile=a.side, window_offsets=offsets)
        start = time.perf_counter()
        res = imp.impute(arr.values, arr.covariates, arr.static, times=arr.times, prior=prior)
        row = {
            "offsets": list(offsets),
            "gap_mae": float(np.abs(res.values - true)[gap].mean()),
            "window_edge_x": edge_ratio(res.values, gap, 2, a.col),
            "window_edge_y": edge_ratio(res.values, gap, 1, a.row),
            "seconds": round(time.perf_counter() - start, 1),
        }
        rows.append(row)
        print(f"offsets {text:9s} gap MAE {row['gap_mae']:.5f}  window edges x {row['window_edge_x']:.3f} "
              f"y {row['window_edge_y']:.3f}  {row['seconds']:.0f} s", flush=True)  # fmt: skip
    truth_row = {
        "window_edge_x": edge_ratio(true, gap, 2, a.col),
        "window_edge_y": edge_ratio(true, gap, 1, a.row),
    }
    print(
        f"truth                              window edges x {truth_row['window_edge_x']:.3f} y {truth_row['window_edge_y']:.3f}"
    )
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


if __name__ == "__main__":
    main()
