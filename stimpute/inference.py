"""Sliding-window inference: overlapping time windows and spatial tiles, blended by tapers.

All of it runs on the model's device: the arrays go up once and are scaled there, each batch of
windows is cut out of them by indexing (windows of different tiles share a batch), and the
weighted sums accumulate there too; the caller takes one copy back at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch

from stimpute.models import STTransformer
from stimpute.tensors import OnDevice, crop_nodes
from stimpute.windows import fit_side, offset_weights, spread, starts, taper


def autocast(device: torch.device):
    """bf16 autocast on CUDA (fast attention kernels), a no-op on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def time_windows(
    n_time: int, window: int, *, overlap: int, stride: int | None = None
) -> tuple[list[int], int]:
    """(window starts, taper edge) in time: the fewest windows, spread evenly, that overlap by
    at least `overlap` days, tapered over the overlap they have; or, given a `stride`, windows
    every `stride` days with the last shifted in (`windows.starts`, the plan before `spread`)."""
    if stride is not None:
        found, edge = starts(n_time, window, stride), window - stride
    else:
        found = spread(n_time, window, overlap)
        edge = window - int(max(np.diff(found), default=window))
    return found, edge if len(found) > 1 else 0


def refill_steps(plan: tuple[list[int], int], window: int, changed: np.ndarray) -> np.ndarray:
    """(T,) bool: the steps a partial re-run fills after the steps marked in `changed` (T,)
    changed: those that only windows of `plan` holding a changed step cover. There a run of
    those windows alone blends exactly as the full run does; every changed step is among them
    unless a window without a change covers it too."""
    starts, _ = plan
    kept = [s for s in starts if changed[s : s + window].any()]
    alone = np.zeros(len(changed), bool)
    for s in kept:
        alone[s : s + window] = True
    for s in starts:
        if s not in kept:
            alone[s : s + window] = False
    return alone


def spatial_tiles(
    grid: tuple[int, int] | None, n_node: int, tile: int, overlap: int
) -> tuple[np.ndarray | None, np.ndarray, tuple[int, int] | None]:
    """(node index per tile [n_tiles, n], blend weight per node [n], tile grid) covering the
    space; on a point set one 'tile' of all nodes (index None). Tiles all have one size."""
    if grid is None:
        return None, np.ones(n_node), None
    height, width = grid
    th, tw = fit_side(height, tile, overlap), fit_side(width, tile, overlap)
    nodes = [
        crop_nodes(grid, r0, c0, th, tw)
        for r0 in spread(height, th, min(overlap, th - 1))
        for c0 in spread(width, tw, min(overlap, tw - 1))
    ]
    weight = np.outer(
        taper(th, edge=overlap if th < height else 0),
        taper(tw, edge=overlap if tw < width else 0),
    )
    return np.stack(nodes), weight.ravel(), (th, tw)


@torch.no_grad()
def predict(
    model: STTransformer,
    data: OnDevice,
    *,
    window: int,
    time_plan: tuple[list[int], int],
    tile: int,
    tile_overlap: int,
    batch_size: int,
    device: torch.device,
    forward: Callable[..., Any] | None = None,
    wanted: np.ndarray | None = None,
    window_offsets: tuple[int, ...] = (0,),
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, scale) in scaled units, (T, N) tensors on the device, averaged over every window
    that covers a value. `time_plan`: (window starts, taper edge), from `time_windows`.
    `wanted` (T,) bool: only these steps are needed; the windows holding one run, each answers
    at its wanted steps alone (equal to the full run there), and every other step is NaN.

    `forward` replaces `model` for the forward pass (a torch.compile'd copy); batches are then
    padded to `batch_size` so one compiled shape serves the whole run. With several
    `window_offsets`, each window's answer is the average over the network run with its spatial
    attention windows moved by each offset, weighted by `offset_weights`, so no window edge is
    the same in every run and each pixel is answered mostly by the runs that hold it inside a
    window.
    """
    model.eval()
    run = model if forward is None else forward
    n_time, n_node = data.values.shape
    time_starts, edge = time_plan
    time_w = taper(window, edge=edge)
    want = None
    if wanted is not None:
        time_starts = [t0 for t0 in time_starts if wanted[t0 : t0 + window].any()]
        want = torch.from_numpy(np.asarray(wanted, bool)).to(device)
        if not time_starts:
            nan = torch.full((n_time, n_node), float("nan"), device=device)
            return nan, nan.clone()
    tiles, space_w, grid = spatial_tiles(data.grid, n_node, tile, tile_overlap)
    weight = torch.from_numpy(time_w[:, None] * space_w[None, :]).float().to(device)  # (L, n)
    runs = np.ones((1, len(space_w)))
    if grid is not None and len(window_offsets) > 1:
        runs = offset_weights(grid, model.cfg.spatial_window, window_offsets)
    per_run = torch.from_numpy(runs).float().to(device)[:, None, None, None, :]  # (K, 1, 1, 1, n)
    n_tiles = 1 if tiles is None else len(tiles)
    # every (tile, time start) pair once; a batch may mix tiles since they share one size
    pairs = [(k, t0, 1) for k in range(n_tiles) for t0 in time_starts]
    batch_size = min(batch_size, len(pairs))
    if forward is not None and len(pairs) % batch_size:  # pad with zero-weight repeats
        pairs += [(*pairs[-1][:2], 0)] * (batch_size - len(pairs) % batch_size)
    work = torch.tensor(pairs, dtype=torch.long, device=device)
    tile_nodes = None if tiles is None else torch.from_numpy(tiles).to(device)
    total = torch.zeros(2, n_time, n_node, device=device)
    weights = torch.zeros(n_time, n_node, device=device)
    steps = torch.arange(window, device=device)
    for i in range(0, len(work), batch_size):
        k, t0, keep = work[i : i + batch_size].unbind(1)
        nodes = None if tile_nodes is None else tile_nodes[k]
        kw = data.inputs(t0, window, nodes, grid)
        at = None  # the window positions answered: all, or those wanted in any of the batch
        if want is not None:
            at = torch.nonzero(want[t0[:, None] + steps].any(0)).squeeze(1)
        answers = []
        for offset in window_offsets:
            moved = {"window_offset": offset} if offset else {}
            with autocast(device):
                mean, log_scale = run(grid=grid, all_layers=False, steps=at, **kw, **moved)[-1]
            answers.append(torch.stack([mean.float(), log_scale.float().exp()]))
        out = (torch.stack(answers) * per_run).sum(0)  # (2, B, L or S, n)
        pos = steps if at is None else at
        t = (t0[:, None] + pos)[:, :, None]  # (B, L or S, 1)
        n = (
            torch.arange(n_node, device=device)[None, None, :]
            if nodes is None
            else nodes[:, None, :]
        )
        w = weight[pos] * keep[:, None, None]
        t, n, w = torch.broadcast_tensors(t, n, w)
        for c in range(2):
            total[c].index_put_((t, n), out[c] * w, accumulate=True)
        weights.index_put_((t, n), w, accumulate=True)
    result = total / weights
    if want is not None:  # a batch answers the steps any of its windows wants: keep the wanted
        result[:, ~want] = float("nan")
    return result[0], result[1]
