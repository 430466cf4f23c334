"""Recalibration of the standard error, by kind of gap.

A gap whose pixel has a neighbour seen the same day (a random dropout, a partial swath) is
filled from that neighbour and is far easier than one on a day nobody saw (a missed overpass,
which is what most real Sentinel-1 gaps are). One factor for both would over-state the error
of the first kind and under-state the second, so the factor is fitted for each kind on the
validation values held out in training, and chosen per value at inference.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

MIN_VALUES = 50  # fewer held values of a kind than this: that kind takes the pooled factor


def same_day_seen(observed: np.ndarray, grid: tuple[int, int] | None) -> np.ndarray:
    """(T, N) bool: another value was observed the same day among the node's 3 x 3 neighbours
    (grid) or anywhere in the set (point set). `observed` is (T, N), N row-major on a grid."""
    obs = observed.astype(np.int32)
    if grid is None:
        return (obs.sum(axis=1, keepdims=True) - obs) > 0
    h, w = grid
    cube = np.pad(obs.reshape(len(obs), h, w), ((0, 0), (1, 1), (1, 1)))
    around = sum(cube[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
                 for dy in (-1, 0, 1) for dx in (-1, 0, 1))  # fmt: skip
    return (around.reshape(len(obs), -1) - obs) > 0


def _factor(ratio: np.ndarray, level: float) -> float:
    z = float(NormalDist().inv_cdf(0.5 + level / 2))
    return float(np.clip(np.quantile(ratio, level) / z, 0.2, 5.0))


def fit_factors(
    mean: np.ndarray,
    scale: np.ndarray,
    truth: np.ndarray,
    seen: np.ndarray,
    level: float = 0.9,
) -> tuple[float, float]:
    """(factor where a neighbour was seen that day, factor where none was) on the model's
    standard error sqrt(2) * Laplace scale, each putting `level` of its held values inside the
    central `level` normal interval. 1.0 when there is too little to fit on."""
    if len(truth) < MIN_VALUES:
        return 1.0, 1.0
    ratio = np.abs(mean - truth) / (np.sqrt(2.0) * np.maximum(scale, 1e-6))
    pooled = _factor(ratio, level)
    return tuple(  # type: ignore[return-value]
        _factor(ratio[part], level) if part.sum() >= MIN_VALUES else pooled
        for part in (seen, ~seen)
    )


def factor_map(
    observed: np.ndarray, grid: tuple[int, int] | None, factors: tuple[float, float]
) -> np.ndarray:
    """(T, N) float32 factor per value for the gaps of `observed`."""
    seen = same_day_seen(observed, grid)
    return np.where(seen, factors[0], factors[1]).astype(np.float32)
