"""Recalibration of the predicted standard error, fitted on held-out values after training.

The scale head learns its Laplace scale on values the model has trained on, so on new values it
is too small, and by how much depends on the kind of gap. A value on a *dark* day (nothing seen
near it that day, as when a whole overpass is lost) is the hardest: during training that same
day is visible elsewhere in the scene, so the model partly memorises it, and a validation box
that hides the day only inside its crop is as optimistic. So two factors are fitted, each on
held values of its kind:
- lit gaps, on the values held in the validation boxes (crops of the training size), predicted
  from each box alone, as early stopping scores them;
- dark gaps, on whole days held across the full scene, predicted through the same
  sliding-window inference that `impute` runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

MIN_VALUES = 50  # fewer held values of a kind than this: that kind borrows the other's factor
LEVEL = 0.9  # the interval whose coverage the factors set
BOUNDS = (0.2, 5.0)


def dark_gaps(visible: np.ndarray, grid: tuple[int, int] | None, reach: int) -> np.ndarray:
    """(T, N) True where nothing is visible that day within `reach` pixels (a (2 reach + 1)^2
    square) on a grid, or at any node of a point set."""
    n_time = visible.shape[0]
    if grid is None:
        return np.repeat(~visible.any(axis=1, keepdims=True), visible.shape[1], axis=1)
    height, width = grid
    seen = visible.reshape(n_time, height, width).astype(np.int32)
    table = np.zeros((n_time, height + 1, width + 1), np.int32)  # summed-area table per day
    table[:, 1:, 1:] = seen.cumsum(1).cumsum(2)
    r0 = np.clip(np.arange(height) - reach, 0, height)
    r1 = np.clip(np.arange(height) + reach + 1, 0, height)
    c0 = np.clip(np.arange(width) - reach, 0, width)
    c1 = np.clip(np.arange(width) + reach + 1, 0, width)
    count = (
        table[:, r1][:, :, c1]
        - table[:, r0][:, :, c1]
        - table[:, r1][:, :, c0]
        + table[:, r0][:, :, c0]
    )
    return (count == 0).reshape(n_time, -1)


def _factor(ratio: np.ndarray) -> float:
    z = float(NormalDist().inv_cdf(0.5 + LEVEL / 2))
    return float(np.clip(np.quantile(ratio, LEVEL) / z, *BOUNDS))


@dataclass
class StdCalibration:
    """Factors on the model's standard error for lit and dark gaps (1.0 before fitting)."""

    lit: float = 1.0
    dark: float = 1.0

    @classmethod
    def fit(cls, lit: np.ndarray, dark: np.ndarray) -> StdCalibration:
        """From |error| / uncalibrated std of held lit and dark gaps: each factor puts LEVEL of
        its kind inside the central LEVEL normal interval; a kind with fewer than MIN_VALUES
        borrows the other's factor (1.0 when neither has enough)."""
        if len(lit) < MIN_VALUES and len(dark) < MIN_VALUES:
            return cls()
        lit_f = _factor(lit) if len(lit) >= MIN_VALUES else _factor(dark)
        dark_f = _factor(dark) if len(dark) >= MIN_VALUES else lit_f
        return cls(lit_f, dark_f)

    def factors(self, dark: np.ndarray) -> np.ndarray:
        return np.where(dark, self.dark, self.lit).astype(np.float32)
