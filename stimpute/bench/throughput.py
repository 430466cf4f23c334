"""Inference throughput in pixel-days per second, set against the machine's matmul rate."""

from __future__ import annotations

import platform
import time
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from stimpute.imputer import Imputer
from stimpute.inference import spatial_tiles
from stimpute.simulate import twin


def matmul_gflops(device: torch.device, *, repeats: int = 10) -> float:
    """Dense fp32 (bf16 on CUDA) square matmul rate: the ceiling the model is measured against."""
    n = 8192 if device.type == "cuda" else 2048
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ a
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ a
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def model_flops_per_token(
    imp: Imputer, values: np.ndarray, covariates: np.ndarray, static: np.ndarray
) -> float:
    """FLOPs of one forward pass per pixel-day token, counted by torch's FlopCounterMode."""
    from stimpute.layout import prepare
    from stimpute.tensors import OnDevice

    method = imp.method
    batch = prepare(values, covariates, static)
    data = OnDevice.from_batch(batch, method.scaler, torch.device("cpu"))  # type: ignore[attr-defined]
    window = method.window  # type: ignore[attr-defined]
    kw = data.inputs(torch.tensor([0]), window, None, batch.layout.grid)
    model = method.model.cpu()  # type: ignore[attr-defined]
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(grid=batch.layout.grid, all_layers=False, **kw)
    method.model.to(method.device)  # type: ignore[attr-defined]
    # FlopCounterMode sees no FLOPs in the CPU flash-attention kernel: add the temporal
    # attention (QK^T and AV, 2 * L * D multiply-adds per token and layer) by hand; the
    # windowed spatial attention is plain matmuls and is counted.
    cfg = model.cfg
    temporal = cfg.layers * 4 * window * cfg.dim
    return counter.get_total_flops() / kw["values"].numel() + temporal


def measure(
    *,
    days: int = 365,
    size: int = 36,
    device: str = "auto",
    repeats: int = 2,
    st_hparams: dict | None = None,
) -> dict[str, Any]:
    """Fit the default model for a few steps (weights do not change the cost), time impute()
    on a `size` x `size` region (a 36 x 36 twin repeated, since content does not change the cost).
    """
    tw = twin(height=36, width=36, days=days, seed=0)
    reps = -(-size // 36)

    def region(a: np.ndarray, space_axes: int) -> np.ndarray:
        spec = [1] * a.ndim
        spec[space_axes] = spec[space_axes + 1] = reps
        big = np.tile(a, spec)
        return big[(slice(None),) * space_axes + (slice(size), slice(size))]

    observed, covariates = region(tw.observed, 1), region(tw.covariates, 1)
    static = region(tw.static, 0)
    imp = Imputer("st_transformer", device=device, max_steps=2, eval_every=1, **(st_hparams or {}))
    imp.fit(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    imp.impute(observed[:80], covariates[:80], static)  # warm-up
    best = np.inf
    for _ in range(repeats):  # the whole call: validation, upload, model, download, merge
        start = time.perf_counter()
        imp.impute(observed, covariates, static, times=tw.day_of_year)
        best = min(best, time.perf_counter() - start)
    method: Any = imp.method
    dev = method.device
    flops = model_flops_per_token(imp, tw.observed, tw.covariates, tw.static)
    tiles, _, tile_grid = spatial_tiles(
        (size, size), size * size, method.config.infer.infer_tile, method.config.infer.tile_overlap
    )
    assert tiles is not None and tile_grid is not None  # a grid is always cut into tiles
    tokens = len(method.window_plan(days)[0]) * method.window * tiles.size
    pd_per_s = observed.size / best
    achieved = tokens / best * flops / 1e9
    peak = matmul_gflops(dev)
    return {
        "device": str(dev) if dev.type == "cpu" else torch.cuda.get_device_name(dev),
        "compiled": method.config.infer.compile,
        "infer_batch": method.infer_batch,
        "infer_tile": tile_grid[0],
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "shape": [days, size, size],
        "pixel_days": int(observed.size),
        "impute_seconds": best,
        "pixel_days_per_second": pd_per_s,
        "model_mflops_per_token": flops / 1e6,
        "tokens_per_pixel_day": tokens / observed.size,
        "achieved_gflops": achieved,
        "matmul_gflops": peak,
        "share_of_matmul_rate": achieved / peak,
    }


def markdown(t: dict[str, Any]) -> str:
    return "\n".join(
        [
            "### inference throughput (default ST-Transformer)",
            "",
            "| device | compiled | batch | tile | region | threads | pixel-days/s | MFLOP/token | tokens per pixel-day | achieved GFLOP/s | matmul GFLOP/s | share |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {t['device']} | {'yes' if t.get('compiled') else 'no'} | {t.get('infer_batch')} | "
            f"{t.get('infer_tile')} | {'x'.join(map(str, t['shape']))} | {t['threads']} | {t['pixel_days_per_second']:,.0f} | {t['model_mflops_per_token']:.2f} | "
            f"{t['tokens_per_pixel_day']:.2f} | {t['achieved_gflops']:.1f} | {t['matmul_gflops']:.1f} | {t['share_of_matmul_rate']:.0%} |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """python -m stimpute.bench.throughput [--out FILE]: time the default model here."""
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m stimpute.bench.throughput")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--size", type=int, default=36)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs; the best counts")
    parser.add_argument("--batch", type=int, default=None, help="windows per forward pass")
    parser.add_argument("--tile", type=int, default=None, help="most pixels of a tile's side")
    parser.add_argument(
        "--time-overlap", type=int, default=None, help="least overlap of time windows, days"
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    from stimpute.errors import StimputeError

    try:
        hp: dict = {"compile": args.compile}
        if args.batch is not None:
            hp["infer_batch"] = args.batch
        if args.tile is not None:
            hp["infer_tile"] = args.tile
        if args.time_overlap is not None:
            hp["time_overlap"] = args.time_overlap
        result = measure(
            days=args.days, size=args.size, device=args.device, repeats=args.repeats, st_hparams=hp
        )
    except StimputeError as exc:
        print(f"error: {exc}")
        return 2
    print(markdown(result))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
