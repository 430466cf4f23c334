"""Covariates with gaps of their own, filled in time before any model sees them.

A 9 km soil-moisture retrieval or a cloud-masked land-surface temperature is missing on most
days at a given pixel. On a day it is missing, a model that only sees "missing" loses the best
predictor it has, although yesterday's or tomorrow's value is still a good one. So every
covariate channel is passed on three times: as given (NaN where missing), filled linearly in
time from its own present values at the same node (held constant past the ends), and the
log(1 + steps) to the nearest present value, which says how stale the filled value is.

Every model gets the same channels, so the comparison stays fair (what they are worth:
benchmarks/README.md, "Twin 0 side by side, covariates filled in time").
"""

from __future__ import annotations

import numpy as np
import torch

from stimpute.errors import ShapeError
from stimpute.gaps import Array, as_tensor, fill_in_time

PER_CHANNEL = 3  # as given, filled in time, log(1 + steps to the nearest present value)


def with_gap_fill(covariates: Array) -> Array:
    """(T, N, C) with NaN -> (T, N, 3C): the channels as given, then each filled in time, then
    log(1 + steps to its nearest present value). numpy in, numpy out (the baselines); a tensor
    in, a tensor out on its device (the neural models fill there, before windowing, so a region
    on the GPU does not wait on the host)."""
    x = as_tensor(covariates)
    filled, dist = fill_in_time(x)
    out = torch.cat([x, filled, torch.log1p(dist.to(x.dtype))], dim=-1)
    return out.numpy() if isinstance(covariates, np.ndarray) else out


def prior_field(
    coarse: np.ndarray,
    grid: tuple[int, int] | None,
    spread: float,
    memory: float,
    days: slice | None = None,
) -> np.ndarray:
    """(T, N) a coarse field with gaps (NaN) -> a gap-free prior, smooth in space and time.

    A coarse product is seen in swaths whose edges fall on its cell columns, each column on its
    own days, so filling each node in time alone leaves a step at every column edge (on the
    twin the step across a 9 km edge is 22 x the step inside a cell). The prior is instead a
    normalized convolution of what was seen: a Gaussian of `spread` pixels in space (grids) and
    weights exp(-|days| / `memory`) over `PRIOR_REACH` days either side in time, divided by the
    same convolution of the seen mask. Where the day was seen it is mostly the day's field (a
    short memory keeps it so); across a swath edge it fades smoothly to the neighbouring days'.
    Where nothing was seen within the reach it falls back to each node's fill in time over the
    whole record, then to the mean of everything seen.

    `days`: only these steps of the prior, (T', N), each equal to the whole record's: the
    convolution reads the reach either side of them, the fallbacks the whole record. So a prior
    kept from an earlier night is brought up to date by recomputing the days a change reaches."""
    x = np.asarray(coarse, np.float64)
    lo, hi, _ = (days or slice(None)).indices(len(x))
    a, b = max(0, lo - PRIOR_REACH), min(len(x), hi + PRIOR_REACH)
    seen = np.isfinite(x[a:b])
    value, mask = np.where(seen, x[a:b], 0.0), seen.astype(np.float64)
    if grid is not None and spread > 0:
        value, mask = _blur(value, grid, spread), _blur(mask, grid, spread)
    if memory > 0:
        value, mask = _in_time(value, memory), _in_time(mask, memory)
    value, mask = value[lo - a : hi - a], mask[lo - a : hi - a]
    prior = np.where(mask > 1e-30, value / np.maximum(mask, 1e-300), np.nan)
    if not np.isfinite(prior).all():
        filled, _ = fill_in_time(x)
        prior = np.where(np.isfinite(prior), prior, filled[lo:hi])
        rest = np.nanmean(x) if np.isfinite(x).any() else 0.0
        prior = np.where(np.isfinite(prior), prior, rest)
    return prior.astype(np.float32)


def rain_memory(
    rain: np.ndarray, memory: tuple[float, ...], before: np.ndarray | None = None
) -> np.ndarray:
    """(T, ...) daily rain -> (T, ..., len(memory)) antecedent precipitation indices, as
    log(1 + index): for each memory m (days), the rain of the day and of every day before it,
    weighted by exp(-age / m). The log keeps the few storm days from dominating the index once
    it is standardised. `before` (L, ...): the rain of the L days before the record, which the
    indices of its first days count too; without it the record opens as if weeks had passed
    without rain, and the first weeks read dry.

    Soil water is the rain that has not yet drained or evaporated, so a pixel's wetness on a day
    it was not seen follows the rain since it was last seen, fading with the days. A model that
    gets only the day's rain must learn that sum through attention; the indices give it at once
    (hydrology's antecedent precipitation index). They look back only: a day appended to the
    record leaves the indices of the days before it unchanged. A day without a rain value (NaN)
    adds nothing."""
    x = np.nan_to_num(np.asarray(rain, np.float64), nan=0.0)
    lead = np.zeros((0, *x.shape[1:])) if before is None else np.asarray(before, np.float64)
    if lead.shape[1:] != x.shape[1:]:
        raise ShapeError(
            f"the rain before the record has shape {lead.shape}; give (days, "
            f"{', '.join(map(str, x.shape[1:]))}) to match the rain {x.shape}"
        )
    lead = np.nan_to_num(lead, nan=0.0)
    out = np.empty((*x.shape, len(memory)), np.float32)
    for i, days in enumerate(memory):
        decay, acc = float(np.exp(-1.0 / days)), np.zeros(x.shape[1:])
        for day in lead:
            acc = day + decay * acc
        for t in range(len(x)):
            acc = x[t] + decay * acc
            out[t, ..., i] = np.log1p(acc)
    return out


PRIOR_REACH = 30  # days either side a prior's value draws on: a change reaches this far


def _in_time(a: np.ndarray, memory: float, reach: int = PRIOR_REACH) -> np.ndarray:
    """(T, N) -> each node's series convolved with exp(-|days| / memory) over +-`reach` days.

    Two recursive passes, forward and backward, each adding the day it reaches and dropping the
    day that leaves the reach: a few operations per node and day rather than 2 x reach + 1 (the
    convolution this replaced; equal to 1e-12). A count of the nonzero days in reach makes a sum
    with none exactly 0, as the convolution's is, rather than the rounding left by the drops."""
    x = np.asarray(a, np.float64)
    decay = float(np.exp(-1.0 / memory))
    tail = decay ** (reach + 1)
    out = -x  # the day itself is in both passes
    for order in (range(len(x)), range(len(x) - 1, -1, -1)):
        acc, live = np.zeros(x.shape[1:]), np.zeros(x.shape[1:], np.int64)
        for k, t in enumerate(order):
            acc = x[t] + decay * acc
            live += x[t] != 0
            if k > reach:  # the day `reach + 1` behind leaves
                gone = x[order[k - reach - 1]]
                acc -= tail * gone
                live -= gone != 0
            acc = np.where(live > 0, acc, 0.0)
            out[t] += acc
    return out


def _blur(a: np.ndarray, grid: tuple[int, int], sigma: float) -> np.ndarray:
    """(T, N) on a grid -> each step convolved with a Gaussian of `sigma` pixels (zero outside)."""
    radius = max(1, int(3 * sigma))
    k = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float64) / sigma) ** 2)
    k = k / k.sum()
    img = torch.from_numpy(np.ascontiguousarray(a)).reshape(-1, 1, *grid)
    img = torch.nn.functional.conv2d(img, k.view(1, 1, -1, 1), padding=(radius, 0))
    img = torch.nn.functional.conv2d(img, k.view(1, 1, 1, -1), padding=(0, radius))
    return img.reshape(a.shape).numpy()
