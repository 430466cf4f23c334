"""Gaps along time: each value's nearest present neighbours before and after, the linear fill
between them, and the distance to the nearer one. Vectorised over every series at once, in
torch so it runs where the data is: the baselines call it on numpy arrays (zero-copy, on the
CPU), the neural models on tensors already on their device, before windowing (covariates.py)."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def fill_in_time(a: Array, times: np.ndarray | None = None) -> tuple[Array, Array]:
    """(T, ...) with NaN -> (linear-in-time fill, steps to the nearest present value), per
    series along axis 0; held constant past the ends. `times` (T,), increasing, places the
    steps for the interpolation (default 0, 1, 2, ...). A series that is never present stays
    NaN, at distance T. Only the series with a gap are worked on (int32 distances, the input's
    float type). numpy in, numpy out; a tensor in, tensors out on its device."""
    x = as_tensor(a)
    n_time, dev = x.shape[0], x.device
    flat = x.reshape(n_time, -1)
    filled = flat.clone()
    dist = torch.zeros(flat.shape, dtype=torch.int32, device=dev)
    missing = flat.isnan()
    gappy = missing.any(dim=0).nonzero().squeeze(1)
    if gappy.numel():
        sub = flat[:, gappy]
        present = ~missing[:, gappy]
        t = torch.arange(n_time, dtype=torch.int32, device=dev)[:, None]
        prev = torch.where(present, t, -1).cummax(dim=0).values
        nxt = torch.where(present, t, n_time).flip(0).cummin(dim=0).values.flip(0)
        has_prev, has_next = prev >= 0, nxt < n_time
        prev_at, next_at = prev.clamp(0, n_time - 1).long(), nxt.clamp(0, n_time - 1).long()
        at_prev, at_next = sub.gather(0, prev_at), sub.gather(0, next_at)
        if times is None:
            frac = (t - prev).double() / (nxt - prev).clamp_min(1).double()
        else:
            pos = torch.as_tensor(np.asarray(times, np.float64), device=dev)
            span = pos[next_at] - pos[prev_at]
            frac = (pos[:, None] - pos[prev_at]) / torch.where(span > 0, span, 1.0)
        filled[:, gappy] = torch.where(
            has_prev & has_next,
            at_prev + (at_next - at_prev) * frac.to(sub.dtype),
            torch.where(has_prev, at_prev, at_next),  # NaN where neither
        )
        far = torch.tensor(n_time, dtype=torch.int32, device=dev)
        dist[:, gappy] = torch.minimum(
            torch.where(has_prev, t - prev, far), torch.where(has_next, nxt - t, far)
        )
    out = filled.reshape(x.shape), dist.reshape(x.shape)
    if isinstance(a, np.ndarray):
        return out[0].numpy(), out[1].numpy()
    return out


def as_tensor(a: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A tensor as is; a numpy array as a CPU tensor sharing its memory where it can."""
    if isinstance(a, torch.Tensor):
        return a
    a = np.ascontiguousarray(a)
    return torch.from_numpy(a if a.flags.writeable else a.copy())
