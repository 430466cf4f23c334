"""Linear interpolation in time per node; the nearest observation is held beyond the ends."""

from __future__ import annotations

from typing import Any

import numpy as np

from stimpute.baselines.base import GapErrorModel, Method, fill_unseen_nodes
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


class LinearInTime(Method):
    """Per-node linear interpolation; std from RMSE binned by distance to the nearest observation."""

    name = "linear"

    def fit(self, batch: Batch, **budget: Any) -> None:
        self.errors = GapErrorModel.calibrate(self, batch, seed=self.seed)

    def predict(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        mean = interpolate_in_time(batch.values, batch.times)
        std = self.errors.std(batch.observed) if hasattr(self, "errors") else np.zeros(mean.shape)
        return np.where(batch.observed, batch.values, mean), std

    def state(self) -> dict[str, Any]:
        return {"rmse_per_bin": self.errors.rmse_per_bin}

    def load_state(self, state: dict[str, Any]) -> None:
        self.errors = GapErrorModel(None if state["rmse_per_bin"] is None else np.asarray(state["rmse_per_bin"]))
