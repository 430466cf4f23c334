"""Sliding-window inference: overlapping time windows and spatial tiles, blended by tapers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext

import numpy as np
import torch

from stimpute.models import STTransformer
from stimpute.tensors import Scaled, to_model_inputs
from stimpute.windows import OverlapAverage, starts, taper


def autocast(device: torch.device):
    """bf16 autocast on CUDA (fast attention kernels), a no-op on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def spatial_tiles(
    data: Scaled, tile: int, overlap: int
) -> Iterator[tuple[np.ndarray | None, np.ndarray, tuple[int, int] | None]]:
    """Yield (node index, blend weight per node, tile grid) covering the space once or more."""
    if data.grid is None:
        n = data.values.shape[1]
        yield None, np.ones(n), None
        return
    height, width = data.grid
    th, tw = min(tile, height), min(tile, width)
    for r0 in starts(height, th, max(1, th - overlap)):
        for c0 in starts(width, tw, max(1, tw - overlap)):
            weight = np.outer(
                taper(th, edge=overlap if th < height else 0),
                taper(tw, edge=overlap if tw < width else 0),
            )
            yield data.crop_nodes(r0, c0, th, tw), weight.ravel(), (th, tw)


@torch.no_grad()
def predict(
    model: STTransformer,
    data: Scaled,
    *,
    window: int,
    stride: int,
    tile: int,
    tile_overlap: int,
    batch_size: int,
    device: torch.device,
    values: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) in scaled units, (T, N) each, averaged over every window that covers a value."""
    model.eval()
    src = data.values if values is None else values
    n_time, n_node = src.shape
    acc = OverlapAverage((n_time, n_node))
    time_starts = starts(n_time, window, stride)
    time_w = taper(window, edge=(window - stride) if len(time_starts) > 1 else 0)
    for nodes, space_w, grid in spatial_tiles(data, tile, tile_overlap):
        weight = time_w[:, None] * space_w[None, :]
        for i in range(0, len(time_starts), batch_size):
            chunk = time_starts[i : i + batch_size]
            win = data.window(chunk, window, nodes, values=src)
            vals = win["values"]
            assert vals is not None
            kw = to_model_inputs(win, ~np.isnan(vals), device, grid)
            with autocast(device):
                mean, log_scale = model(grid=grid, all_layers=False, **kw)[-1]
            out = torch.stack([mean, log_scale.exp()]).float().cpu().numpy()
            for j, t0 in enumerate(chunk):
                index = (slice(t0, t0 + window), slice(None) if nodes is None else nodes)
                acc.add(index, out[:, j], weight)
    result = acc.result()
    return result[0], result[1]
