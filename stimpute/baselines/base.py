"""What every method implements, and a gap-length error model that gives baselines a `std`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from stimpute.gaps import fill_in_time
from stimpute.layout import Batch
from stimpute.masks import hide_days, hide_points

GAP_BINS = np.array([0, 1, 2, 4, 8, 16, 32, np.inf])


class Method(ABC):
    """A fitted imputation method: `fit` on a Batch, `predict` mean and std on a Batch."""

    name: str = "method"
    # whether `predict` can fill an input with no observed value at all (from covariates and
    # what it learnt in `fit`); methods that only rearrange the input's own values cannot
    fills_without_observations: bool = False

    def __init__(self, *, seed: int = 0, **hparams: Any) -> None:
        self.seed = seed
        self.hparams = hparams

    @abstractmethod
    def fit(self, batch: Batch, **budget: Any) -> None:
        """Learn from the observed values of `batch`."""

    @abstractmethod
    def predict(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        """Return (mean, std), both (T, N) float arrays, NaN only where nothing can be said."""

    def state(self) -> dict[str, Any]:
        """Tensors/arrays and plain values that `load_state` restores (no pickled objects)."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:  # noqa: B027 - stateless methods keep it
        """Restore what `state` returned."""


def gap_distance(observed: np.ndarray) -> np.ndarray:
    """Steps from each (t, n) to the nearest observed time step of the same node (0 if observed;
    4T at a node never observed, past every gap bin)."""
    n_time = observed.shape[0]
    dist = fill_in_time(np.where(observed, 0.0, np.nan))[1].astype(np.float64)
    return np.where(observed.any(axis=0), dist, float(n_time * 4))


class GapErrorModel:
    """RMSE of a method as a function of distance to the nearest observation, fitted on a holdout."""

    def __init__(self, rmse_per_bin: np.ndarray | None = None) -> None:
        self.rmse_per_bin = rmse_per_bin

    @classmethod
    def calibrate(
        cls, method: Method, batch: Batch, *, rate: float = 0.1, seed: int = 0
    ) -> GapErrorModel:
        """Hide `rate` of the observed values, predict them, and tabulate RMSE by gap bin."""
        rng = np.random.default_rng(seed + 7919)
        observed = batch.observed
        hidden = hide_points(observed, rate / 2, rng) | hide_days(observed, rate / 2, rng)
        values = np.where(hidden, np.nan, batch.values)
        if not np.isfinite(values).any():
            return cls(None)
        trial = Batch(
            batch.layout, values, batch.covariates, batch.static, batch.coords, batch.times
        )
        mean, _ = method.predict(trial)
        dist = gap_distance(~np.isnan(values))
        err = (mean - batch.values)[hidden & np.isfinite(mean)]
        bins = np.digitize(dist[hidden & np.isfinite(mean)], GAP_BINS[1:-1])
        overall = float(np.sqrt(np.mean(err**2))) if err.size else np.nan
        table = np.full(len(GAP_BINS) - 1, overall)
        for b in range(len(table)):
            sel = bins == b
            if sel.sum() >= 20:
                table[b] = np.sqrt(np.mean(err[sel] ** 2))
        table = np.maximum.accumulate(np.nan_to_num(table, nan=overall))  # farther is never easier
        return cls(table)

    def std(self, observed: np.ndarray) -> np.ndarray:
        """Per-value std: 0 where observed, the binned RMSE elsewhere."""
        if self.rmse_per_bin is None:
            return np.where(observed, 0.0, np.nan)
        dist = gap_distance(observed)
        out = self.rmse_per_bin[np.digitize(dist, GAP_BINS[1:-1])]
        return np.where(observed, 0.0, out)


def fill_unseen_nodes(mean: np.ndarray) -> np.ndarray:
    """Nodes never observed get the across-node mean of each time step (NaN if none)."""
    bad = np.isnan(mean).all(axis=0)
    if bad.any() and not bad.all():
        mean = mean.copy()
        mean[:, bad] = np.nanmean(mean[:, ~bad], axis=1, keepdims=True)
    return mean


class GapCalibrated(Method):
    """A method whose std comes from a GapErrorModel calibrated at fit time."""

    errors: GapErrorModel | None = None

    def fit(self, batch: Batch, **budget: Any) -> None:
        self.errors = GapErrorModel.calibrate(self, batch, seed=self.seed)

    def std_for(self, observed: np.ndarray) -> np.ndarray:
        return (
            self.errors.std(observed)
            if self.errors is not None
            else np.where(observed, 0.0, np.nan)
        )

    def state(self) -> dict[str, Any]:
        return {"rmse_per_bin": None if self.errors is None else self.errors.rmse_per_bin}

    def load_state(self, state: dict[str, Any]) -> None:
        table = state.get("rmse_per_bin")
        self.errors = GapErrorModel(None if table is None else np.asarray(table))
