"""Per-pixel mean (climatology over the fitted period); std is the pixel's observed spread."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from stimpute.baselines.base import Method
from stimpute.layout import Batch


class PixelMean(Method):
    """Fill every gap with the mean of that node's observed values."""

    name = "mean"

    def fit(self, batch: Batch, **budget: Any) -> None:
        vals = batch.values.astype(np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            self.node_mean = np.nanmean(vals, axis=0)
            node_std = np.nanstd(vals, axis=0)
        self.global_mean = float(np.nanmean(vals))
        self.global_std = float(np.nanstd(vals)) or 1e-6
        # a spread from fewer than 3 values says little: use the global one there
        self.node_std = np.where(
            (~np.isnan(vals)).sum(axis=0) >= 3, np.maximum(node_std, 1e-6), self.global_std
        )

    def predict(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        observed = batch.observed
        node_mean = self.node_mean if self.node_mean.shape[0] == batch.layout.n_node else None
        if node_mean is None:  # a different space than fitted: the global climatology
            mean_row = np.full(batch.layout.n_node, self.global_mean)
            std_row = np.full(batch.layout.n_node, self.global_std)
        else:
            mean_row = np.where(np.isnan(node_mean), self.global_mean, node_mean)
            std_row = np.where(np.isnan(self.node_std), self.global_std, self.node_std)
        mean = np.broadcast_to(mean_row, observed.shape)
        std = np.broadcast_to(std_row, observed.shape)
        return np.where(observed, batch.values, mean), np.where(observed, 0.0, std)

    def state(self) -> dict[str, Any]:
        return {
            "node_mean": self.node_mean,
            "node_std": self.node_std,
            "global_mean": self.global_mean,
            "global_std": self.global_std,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.node_mean = np.asarray(state["node_mean"])
        self.node_std = np.asarray(state["node_std"])
        self.global_mean = float(state["global_mean"])
        self.global_std = float(state["global_std"])
