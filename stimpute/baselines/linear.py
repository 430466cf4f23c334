"""Linear interpolation in time per node; the nearest observation is held beyond the ends."""

from __future__ import annotations

import numpy as np

from stimpute.baselines.base import GapCalibrated, fill_unseen_nodes
from stimpute.gaps import fill_in_time
from stimpute.layout import Batch


def interpolate_in_time(values: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
    """(T, N) with NaN gaps -> linear in time between observations, constant past the ends."""
    return fill_unseen_nodes(fill_in_time(values.astype(np.float64), times)[0])


class LinearInTime(GapCalibrated):
    """Per-node linear interpolation; std from RMSE binned by distance to the nearest observation."""

    name = "linear"

    def predict(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        mean = interpolate_in_time(batch.values, batch.times)
        std = self.std_for(batch.observed)
        return np.where(batch.observed, batch.values, mean), std
