"""Linear interpolation in time per node; the nearest observation is held beyond the ends."""

from __future__ import annotations

import numpy as np

from stimpute.baselines.base import GapCalibrated, fill_unseen_nodes
from stimpute.layout import Batch


def interpolate_in_time(values: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
    """(T, N) with NaN gaps -> linear in time between observations, constant past the ends."""
    n_time = values.shape[0]
    t = np.arange(n_time, dtype=np.float64) if times is None else times
    out = np.full(values.shape, np.nan, dtype=np.float64)
    for node in range(values.shape[1]):
        col = values[:, node]
        ok = ~np.isnan(col)
        if ok.any():
            out[:, node] = np.interp(t, t[ok], col[ok])
    return fill_unseen_nodes(out)


class LinearInTime(GapCalibrated):
    """Per-node linear interpolation; std from RMSE binned by distance to the nearest observation."""

    name = "linear"

    def predict(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        mean = interpolate_in_time(batch.values, batch.times)
        std = self.std_for(batch.observed)
        return np.where(batch.observed, batch.values, mean), std
