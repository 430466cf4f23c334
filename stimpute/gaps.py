"""Gaps along time: each value's nearest present neighbours before and after, the linear fill
between them, and the distance to the nearer one. Vectorised over every series at once; the
baselines' linear interpolation and gap distances and the covariate fill all use it."""

from __future__ import annotations

import numpy as np


def fill_in_time(a: np.ndarray, times: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(T, ...) with NaN -> (linear-in-time fill, steps to the nearest present value), per
    series along axis 0; held constant past the ends. `times` (T,), increasing, places the
    steps for the interpolation (default 0, 1, 2, ...). A series that is never present stays
    NaN, at distance T. Only the series with a gap are worked on (int32 indices, the input's
    float type)."""
    n_time = a.shape[0]
    flat = a.reshape(n_time, -1)
    filled = flat.copy()
    dist = np.zeros(flat.shape, np.int32)
    gappy = np.flatnonzero(np.isnan(flat).any(axis=0))
    if gappy.size:
        sub = flat[:, gappy]
        present = ~np.isnan(sub)
        t = np.arange(n_time, dtype=np.int32)[:, None]
        prev = np.maximum.accumulate(np.where(present, t, -1), axis=0)
        nxt = np.minimum.accumulate(np.where(present, t, n_time)[::-1], axis=0)[::-1]
        has_prev, has_next = prev >= 0, nxt < n_time
        prev_at, next_at = np.clip(prev, 0, n_time - 1), np.clip(nxt, 0, n_time - 1)
        cols = np.arange(sub.shape[1])[None]
        at_prev, at_next = sub[prev_at, cols], sub[next_at, cols]
        if times is None:
            frac = (t - prev) / np.maximum(nxt - prev, 1)
        else:
            pos = np.asarray(times, np.float64)
            span = pos[next_at] - pos[prev_at]
            frac = (pos[:, None] - pos[prev_at]) / np.where(span > 0, span, 1.0)
        filled[:, gappy] = np.where(
            has_prev & has_next,
            at_prev + (at_next - at_prev) * frac.astype(sub.dtype),
            np.where(has_prev, at_prev, at_next),  # NaN where neither
        )
        dist[:, gappy] = np.minimum(
            np.where(has_prev, t - prev, n_time), np.where(has_next, nxt - t, n_time)
        )
    return filled.reshape(a.shape), dist.reshape(a.shape)
