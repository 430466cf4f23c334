"""The pipeline's CPU model in a plain process, in a dask worker as dask starts it, and in a dask
worker after `pipeline.cluster.tune_allocator` (what every task of the pipeline's Runner does
first): seconds per forward pass over one 72-day window of a 36 x 36 px tile, one thread.

Dask starts its workers with MALLOC_TRIM_THRESHOLD_ set; glibc then keeps its mmap threshold at
128 KB, and every large temporary tensor is mapped and faulted in afresh.

    python benchmarks/worker_allocator.py [--repeats 8] [--out benchmarks/results/worker-allocator]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any


def forward_seconds(repeats: int = 8) -> dict[str, Any]:
    """Best and median seconds of one forward pass of the pipeline's CPU model
    (`stimpute.config.CPU_SMALL`) over a (1, 72, 36 x 36) window, in this process with one torch
    thread."""
    import os

    import torch

    from stimpute.config import CPU_SMALL
    from stimpute.models.st_transformer import STTransformer, STTransformerConfig

    torch.set_num_threads(1)
    torch.manual_seed(0)
    size = {k: CPU_SMALL[k] for k in ("dim", "layers", "heads")}
    model = STTransformer(STTransformerConfig(**size)).eval()
    values = torch.randn(1, 72, 36 * 36)
    visible = torch.rand(1, 72, 36 * 36) > 0.5
    days = torch.arange(72.0)[None]
    times = []
    with torch.no_grad():
        model(values, visible, times=days, grid=(36, 36), all_layers=False)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            model(values, visible, times=days, grid=(36, 36), all_layers=False)
            times.append(time.perf_counter() - start)
    times.sort()
    return {
        "best_s": round(times[0], 4),
        "median_s": round(times[len(times) // 2], 4),
        "MALLOC_TRIM_THRESHOLD_": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
    }


def tuned_forward_seconds(repeats: int = 8) -> dict[str, Any]:
    from pipeline.cluster import tune_allocator

    return {"tuned": tune_allocator(), **forward_seconds(repeats)}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/worker-allocator"))
    a = ap.parse_args()
    from distributed import Client, LocalCluster

    rows = {"plain process": forward_seconds(a.repeats)}
    # each in a fresh worker: the allocator's settings stay with a process
    for name, fn in (
        ("dask worker", forward_seconds),
        ("dask worker, tuned", tuned_forward_seconds),
    ):
        with (
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):  # fmt: skip
            rows[name] = client.submit(fn, a.repeats, pure=False).result()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    measured = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "# One forward pass of the pipeline's CPU model, one thread",
        "",
        f"Measured {measured} at `{commit}`; `python benchmarks/worker_allocator.py` (the "
        f"pipeline's CPU model, one 72-day window of 36 x 36 px, best and median of {a.repeats}).",
        "",
        "| where | best s | median s | MALLOC_TRIM_THRESHOLD_ |",
        "|---|---|---|---|",
        *(
            f"| {k} | {v['best_s']:.3f} | {v['median_s']:.3f} | {v['MALLOC_TRIM_THRESHOLD_']} |"
            for k, v in rows.items()
        ),
    ]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(
        json.dumps({"measured": measured, "commit": commit, "rows": rows}, indent=1)
    )
    a.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
