"""Scaling and window extraction: from a validated Batch to model-ready torch tensors."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stimpute.layout import Batch


@dataclass
class Scaler:
    """Standardisation of values, covariates and static fields; coords to [-1, 1]."""

    value_mean: float
    value_std: float
    cov_mean: np.ndarray | None
    cov_std: np.ndarray | None
    static_mean: np.ndarray | None
    static_std: np.ndarray | None
    coord_min: np.ndarray | None
    coord_span: np.ndarray | None

    @classmethod
    def fit(cls, batch: Batch) -> Scaler:
        def stats(
            a: np.ndarray | None, axes: tuple[int, ...]
        ) -> tuple[np.ndarray | None, np.ndarray | None]:
            if a is None:
                return None, None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nan_to_num(np.nanmean(a, axis=axes))
                std = np.nan_to_num(np.nanstd(a, axis=axes))
            return mean.astype(np.float32), np.where(std > 1e-8, std, 1.0).astype(np.float32)

        vals = batch.values[batch.observed]
        std = float(vals.std()) if vals.size > 1 else 1.0
        cov_mean, cov_std = stats(batch.covariates, (0, 1))
        st_mean, st_std = stats(batch.static, (0,))
        cmin = cspan = None
        if batch.coords is not None:
            cmin = batch.coords.min(axis=0)
            cspan = np.maximum(batch.coords.max(axis=0) - cmin, 1e-8)
        return cls(
            float(vals.mean()),
            std if std > 1e-8 else 1.0,
            cov_mean,
            cov_std,
            st_mean,
            st_std,
            cmin,
            cspan,
        )

    def state(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Scaler:
        def arr(v: Any) -> Any:
            return None if v is None else np.asarray(v, dtype=np.float32)

        return cls(
            float(state["value_mean"]),
            float(state["value_std"]),
            *(
                arr(state[k])
                for k in (
                    "cov_mean",
                    "cov_std",
                    "static_mean",
                    "static_std",
                    "coord_min",
                    "coord_span",
                )
            ),
        )


@dataclass
class Scaled:
    """A Batch after scaling, kept in numpy; `window` cuts model inputs out of it."""

    values: np.ndarray  # (T, N) float32, NaN where missing
    covariates: np.ndarray | None  # (T, N, C), NaN where missing
    static: np.ndarray | None  # (N, S)
    coords: np.ndarray | None  # (N, 2) in [-1, 1]
    times: np.ndarray  # (T,)
    grid: tuple[int, int] | None

    @classmethod
    def build(cls, batch: Batch, scaler: Scaler) -> Scaled:
        def standard(a: np.ndarray | None, shift: Any, scale: Any) -> np.ndarray | None:
            if a is None or shift is None or scale is None:
                return None
            return ((a - shift) / scale).astype(np.float32)

        vals = (batch.values - scaler.value_mean) / scaler.value_std
        cov = standard(batch.covariates, scaler.cov_mean, scaler.cov_std)
        stat = standard(batch.static, scaler.static_mean, scaler.static_std)
        crd = standard(batch.coords, scaler.coord_min, scaler.coord_span)
        crd = None if crd is None else 2 * crd - 1
        return cls(vals.astype(np.float32), cov, stat, crd, batch.times, batch.layout.grid)

    def crop_nodes(self, r0: int, c0: int, height: int, width: int) -> np.ndarray:
        """Flat node indices of a (height, width) crop at (r0, c0) of the grid."""
        assert self.grid is not None
        return (
            (np.arange(r0, r0 + height)[:, None]) * self.grid[1] + np.arange(c0, c0 + width)
        ).ravel()

    def window(
        self,
        starts: list[int],
        length: int,
        nodes: np.ndarray | None,
        values: np.ndarray | None = None,
    ) -> dict[str, np.ndarray | None]:
        """Stack windows [t0, t0 + length) at `nodes` (all if None) into [batch, time, node, ...]."""
        src = self.values if values is None else values
        sel = slice(None) if nodes is None else nodes

        def cut(a: np.ndarray) -> np.ndarray:
            return np.stack([a[t0 : t0 + length][:, sel] for t0 in starts])

        out: dict[str, np.ndarray | None] = {"values": cut(src)}
        out["covariates"] = None if self.covariates is None else cut(self.covariates)
        out["static"] = None if self.static is None else np.stack([self.static[sel]] * len(starts))
        out["coords"] = None if self.coords is None else np.stack([self.coords[sel]] * len(starts))
        out["times"] = np.stack([self.times[t0 : t0 + length] for t0 in starts])
        return out


def temporal_context(
    values: np.ndarray, visible: np.ndarray, covariates: np.ndarray | None = None
) -> np.ndarray:
    """Per token, from the visible values of its own node in the window: the value linearly
    interpolated in time, log(1 + steps) to the previous and to the next visible value, and for
    each covariate its value interpolated the same way from those two observations (with a flag
    where it is missing there). With the covariate of the day itself, the model can then form
    "covariate now + the offset seen at nearby observations" as a linear combination.

    values, visible: [batch, time, node]; covariates [batch, time, node, C] with NaN ->
    [batch, time, node, 3 + 2C]. Computed after hiding, so it never leaks a hidden value.
    """
    length = values.shape[1]
    idx = np.arange(length)[None, :, None]
    prev_idx = np.maximum.accumulate(np.where(visible, idx, -1), axis=1)
    next_idx = np.minimum.accumulate(np.where(visible, idx, length)[:, ::-1], axis=1)[:, ::-1]
    has_prev, has_next = prev_idx >= 0, next_idx < length
    prev_at, next_at = np.clip(prev_idx, 0, length - 1), np.clip(next_idx, 0, length - 1)
    d_prev = np.where(has_prev, idx - prev_idx, length).astype(np.float32)
    d_next = np.where(has_next, next_idx - idx, length).astype(np.float32)
    frac = d_prev / np.maximum(d_prev + d_next, 1.0)

    def interpolate(a: np.ndarray, ok_prev: np.ndarray, ok_next: np.ndarray) -> np.ndarray:
        at_prev = np.take_along_axis(a, prev_at, axis=1)
        at_next = np.take_along_axis(a, next_at, axis=1)
        return np.where(
            ok_prev & ok_next,
            at_prev + (at_next - at_prev) * frac,
            np.where(ok_prev, at_prev, np.where(ok_next, at_next, 0.0)),
        )

    feats = [
        interpolate(np.where(visible, values, 0.0), has_prev, has_next),
        np.log1p(d_prev),
        np.log1p(d_next),
    ]
    if covariates is not None:
        for c in range(covariates.shape[-1]):
            cov = covariates[..., c]
            present = ~np.isnan(cov)
            ok_prev = has_prev & np.take_along_axis(present, prev_at, axis=1)
            ok_next = has_next & np.take_along_axis(present, next_at, axis=1)
            feats += [interpolate(np.nan_to_num(cov), ok_prev, ok_next), (~(ok_prev | ok_next))]
    return np.stack(feats, axis=-1).astype(np.float32)


def _box_sum(a: np.ndarray, radius: int) -> np.ndarray:
    """Sum over a (2r+1)^2 box on the last two axes, zero outside (integral image)."""
    k = 2 * radius + 1
    pad = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(radius + 1, radius), (radius + 1, radius)])
    cs = pad.cumsum(axis=-2).cumsum(axis=-1)
    return cs[..., k:, k:] - cs[..., :-k, k:] - cs[..., k:, :-k] + cs[..., :-k, :-k]


SPATIAL_RADII = (1, 3)


def spatial_context(
    values: np.ndarray, visible: np.ndarray, grid: tuple[int, int] | None
) -> np.ndarray:
    """Per token, the mean of the visible values of the same step in a 3 x 3 and a 7 x 7
    neighbourhood (the token itself excluded) and log(1 + their count); on a point set, the
    mean and count over all other nodes. [batch, time, node] -> [batch, time, node, 4].
    """
    vals = np.where(visible, values, 0.0).astype(np.float64)
    vis = visible.astype(np.float64)
    feats = []
    if grid is None:
        total, count = (
            vals.sum(axis=-1, keepdims=True) - vals,
            vis.sum(axis=-1, keepdims=True) - vis,
        )
        pairs = [(total, count)] * len(SPATIAL_RADII)
    else:
        shape = (*values.shape[:2], *grid)
        pairs = []
        for r in SPATIAL_RADII:
            total = _box_sum(vals.reshape(shape), r).reshape(values.shape) - vals
            count = _box_sum(vis.reshape(shape), r).reshape(values.shape) - vis
            pairs.append((total, count))
    for total, count in pairs:
        feats += [np.where(count > 0, total / np.maximum(count, 1), 0.0), np.log1p(np.round(count))]
    return np.stack(feats, axis=-1).astype(np.float32)


def to_model_inputs(
    win: dict[str, np.ndarray | None],
    visible: np.ndarray,
    device: torch.device,
    grid: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Numpy window dict + visibility -> keyword tensors for the model (NaN replaced by 0)."""
    vals = win["values"]
    assert vals is not None
    kw: dict[str, Any] = {
        "values": torch.from_numpy(np.where(visible, vals, 0.0).astype(np.float32)).to(device),
        "visible": torch.from_numpy(visible).to(device),
        "times": torch.from_numpy(np.asarray(win["times"], dtype=np.float32)).to(device),
        "context": torch.from_numpy(
            np.concatenate(
                [
                    temporal_context(np.nan_to_num(vals), visible, win["covariates"]),
                    spatial_context(np.nan_to_num(vals), visible, grid),
                ],
                axis=-1,
            )
        ).to(device),
    }
    cov = win["covariates"]
    if cov is not None:
        miss = np.isnan(cov)
        kw["covariates"] = torch.from_numpy(np.where(miss, 0.0, cov).astype(np.float32)).to(device)
        kw["cov_missing"] = torch.from_numpy(miss.astype(np.float32)).to(device)
    for key in ("static", "coords"):
        if win[key] is not None:
            kw[key] = torch.from_numpy(np.asarray(win[key], dtype=np.float32)).to(device)
    return kw
