"""Masked error metrics: each takes prediction, target and a boolean mask of where to score."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from stimpute.errors import NoObservationsError, ShapeError


def two_sided_z(level: float) -> float:
    """z such that the central `level` of a standard normal lies within +/- z."""
    return NormalDist().inv_cdf(0.5 + level / 2)


Z90 = two_sided_z(0.9)


def _pairs(
    pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ShapeError(f"prediction {pred.shape} and target {target.shape} differ in shape")
    keep = np.isfinite(target) & np.isfinite(pred)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != pred.shape:
            raise ShapeError(f"mask {mask.shape} does not match prediction {pred.shape}")
        keep &= mask
    if not keep.any():
        raise NoObservationsError("the evaluation mask selects no finite (prediction, target) pair")
    return pred[keep], target[keep]


def mae(pred, target, mask=None) -> float:
    """Mean absolute error."""
    p, t = _pairs(pred, target, mask)
    return float(np.mean(np.abs(p - t)))


def rmse(pred, target, mask=None) -> float:
    """Root mean squared error."""
    p, t = _pairs(pred, target, mask)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def bias(pred, target, mask=None) -> float:
    """Mean of prediction minus target."""
    p, t = _pairs(pred, target, mask)
    return float(np.mean(p - t))


def ubrmse(pred, target, mask=None) -> float:
    """Unbiased RMSE: sqrt(RMSE^2 - bias^2), the SMAP validation convention."""
    p, t = _pairs(pred, target, mask)
    e = p - t
    return float(np.sqrt(max(np.mean(e**2) - np.mean(e) ** 2, 0.0)))


def pearson_r(pred, target, mask=None) -> float:
    """Pearson correlation; NaN when either side is constant."""
    p, t = _pairs(pred, target, mask)
    sp, st = p.std(), t.std()
    if sp == 0 or st == 0:
        return math.nan
    return float(np.mean((p - p.mean()) * (t - t.mean())) / (sp * st))


def mre(pred, target, mask=None) -> float:
    """Mean relative error as in the imputation literature: sum|e| / sum|y|."""
    p, t = _pairs(pred, target, mask)
    denom = np.sum(np.abs(t))
    return float(np.sum(np.abs(p - t)) / denom) if denom > 0 else math.nan


def coverage(pred, std, target, mask=None, *, level: float = 0.9) -> float:
    """Share of targets inside pred +/- z * std, z the two-sided normal quantile of `level`."""
    z = two_sided_z(level)
    pred = np.asarray(pred, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    if std.shape != pred.shape:
        raise ShapeError(f"std {std.shape} does not match prediction {pred.shape}")
    keep = np.ones(pred.shape, bool) if mask is None else np.asarray(mask, bool)
    keep = keep & np.isfinite(std)
    p, t = _pairs(pred, target, keep)
    s = std[keep & np.isfinite(np.asarray(target, np.float64)) & np.isfinite(pred)]
    return float(np.mean(np.abs(p - t) <= z * s))


def summary(pred, target, mask=None, std=None) -> dict[str, float]:
    """All metrics in one dict (coverage only when `std` is given)."""
    out = {
        "mae": mae(pred, target, mask),
        "rmse": rmse(pred, target, mask),
        "bias": bias(pred, target, mask),
        "ubrmse": ubrmse(pred, target, mask),
        "r": pearson_r(pred, target, mask),
        "mre": mre(pred, target, mask),
    }
    if std is not None:
        out["coverage50"] = coverage(pred, std, target, mask, level=0.5)
        out["coverage90"] = coverage(pred, std, target, mask, level=0.9)
    return out


def neighbour_steps(
    field: np.ndarray, where: np.ndarray, axis: int
) -> tuple[np.ndarray, np.ndarray]:
    """|step| between each pixel and the next along `axis`, and where both pixels are in
    `where` and the step is finite: the raw material of every seam ratio."""
    n = field.shape[axis]
    step = np.abs(np.diff(np.asarray(field, np.float64), axis=axis))
    both = np.take(where, range(n - 1), axis=axis) & np.take(where, range(1, n), axis=axis)
    return step, both & np.isfinite(step)


def cell_edges(n: int, cell: int, origin: int = 0) -> np.ndarray:
    """(n - 1,) True where the step from index i to i + 1 of a line of `n` pixels crosses the
    edge of `cell`-pixel cells; `origin` is the line's first index on the cells' grid."""
    return (origin + np.arange(1, n)) % cell == 0


def cell_seam_ratio(field: np.ndarray, where: np.ndarray, cell: int) -> tuple[float, float]:
    """(x, y): the mean |step| between neighbouring pixels of a (T, H, W) field, both in
    `where`, across the edges of `cell` x `cell` cells over the mean step inside them; x is
    along the width, y along the height. 1 means no seam; a filled map is judged against its
    truth's ratio on the same pixels. NaN where a direction has no step of either kind."""
    field = np.asarray(field, np.float64)
    where = np.asarray(where, bool)
    if field.ndim != 3 or where.shape != field.shape:
        raise ShapeError(f"field {field.shape} and mask {where.shape}: both must be one (T, H, W)")
    out = []
    for axis in (2, 1):
        step, both = neighbour_steps(field, where, axis)
        shape = [1, 1, 1]
        shape[axis] = field.shape[axis] - 1
        edge = cell_edges(field.shape[axis], cell).reshape(shape)
        across, inside = step[both & edge], step[both & ~edge]
        ok = across.size and inside.size and inside.mean() > 0
        out.append(float(across.mean() / inside.mean()) if ok else math.nan)
    return out[0], out[1]
