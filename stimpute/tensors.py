"""Scaling and window extraction: from a validated Batch to model-ready torch tensors."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stimpute.context import RecordOffset, model_inputs
from stimpute.covariates import with_gap_fill
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
        cov_mean, cov_std = stats(batch.covariates_filled, (0, 1))
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


def crop_nodes(grid: tuple[int, int], r0: int, c0: int, height: int, width: int) -> np.ndarray:
    """Flat node indices of a (height, width) crop at (r0, c0) of a row-major grid."""
    return ((np.arange(r0, r0 + height)[:, None]) * grid[1] + np.arange(c0, c0 + width)).ravel()


def standardise(
    batch: Batch, scaler: Scaler, device: torch.device
) -> tuple[torch.Tensor | None, ...]:
    """(values, covariates, static, coords, times) as float32 tensors on `device`, scaled there
    (NaN stays NaN; coords to [-1, 1]). The covariates go up as given and are filled in time
    there (T, N, C) -> (T, N, 3C), as Scaler.fit saw them."""

    def put(
        a: np.ndarray | None, shift: Any = None, scale: Any = None, then: Any = None
    ) -> torch.Tensor | None:
        if a is None:
            return None
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device)
        if then is not None:
            t = then(t)
        if shift is None or scale is None:
            return t
        return (t - torch.as_tensor(shift, device=device)) / torch.as_tensor(scale, device=device)

    coords = put(batch.coords, scaler.coord_min, scaler.coord_span)
    return (
        put(batch.values, scaler.value_mean, scaler.value_std),
        # on the CPU the fill Scaler.fit made (cached on the batch) is reused, not made again
        put(batch.covariates_filled, scaler.cov_mean, scaler.cov_std)
        if device.type == "cpu"
        else put(batch.covariates, scaler.cov_mean, scaler.cov_std, then=with_gap_fill),
        put(batch.static, scaler.static_mean, scaler.static_std),
        None if coords is None else 2 * coords - 1,
        put(batch.times),
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
    panels: int = 1  # bands of the grid that hold separate crops (`Layout.panels`)

    @classmethod
    def build(cls, batch: Batch, scaler: Scaler) -> Scaled:
        values, cov, stat, crd, _ = (
            None if t is None else t.numpy()
            for t in standardise(batch, scaler, torch.device("cpu"))
        )
        assert values is not None
        return cls(values, cov, stat, crd, batch.times, batch.layout.grid, batch.layout.panels)

    def crop_nodes(self, r0: int, c0: int, height: int, width: int) -> np.ndarray:
        assert self.grid is not None
        return crop_nodes(self.grid, r0, c0, height, width)

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


@dataclass
class OnDevice:
    """The arrays of a `Scaled` as tensors on the model's device; `inputs` cuts a batch of
    windows out of them by indexing, so inference never round-trips through the host."""

    values: torch.Tensor  # (T, N), NaN where missing
    covariates: torch.Tensor | None  # (T, N, C)
    static: torch.Tensor | None  # (N, S)
    coords: torch.Tensor | None  # (N, 2)
    times: torch.Tensor  # (T,)
    grid: tuple[int, int] | None
    offset: RecordOffset

    @classmethod
    def from_batch(cls, batch: Batch, scaler: Scaler, device: torch.device) -> OnDevice:
        """Upload and standardise on the device, then take the record offsets there."""
        values, cov, stat, crd, times = standardise(batch, scaler, device)
        assert values is not None and times is not None
        grid = batch.layout.grid
        return cls(values, cov, stat, crd, times, grid, RecordOffset.of(values, grid))

    def inputs(
        self,
        t0: torch.Tensor,
        length: int,
        nodes: torch.Tensor | None,
        grid: tuple[int, int] | None,
    ) -> dict[str, Any]:
        """Model inputs for windows [t0[b], t0[b] + length) at nodes[b] (all nodes if None)."""
        t = t0[:, None] + torch.arange(length, device=t0.device)  # (B, L)
        ni: torch.Tensor | slice = slice(None)
        ti = t
        if nodes is not None:
            ti, ni = t[:, :, None], nodes[:, None, :]  # broadcast to (B, L, n)

        def at_nodes(a: torch.Tensor | None) -> torch.Tensor | None:
            if a is None:
                return None
            return a.expand(len(t0), *a.shape) if nodes is None else a[nodes]

        values = self.values[ti, ni]
        cov = None if self.covariates is None else self.covariates[ti, ni]
        return model_inputs(
            values,
            ~values.isnan(),
            self.times[t],
            grid=grid,
            offset=self.offset.features(t, nodes),
            covariates=cov,
            static=at_nodes(self.static),
            coords=at_nodes(self.coords),
        )


def to_model_inputs(
    win: dict[str, np.ndarray | None],
    visible: np.ndarray,
    device: torch.device,
    grid: tuple[int, int] | None,
    offset: torch.Tensor,
) -> dict[str, Any]:
    """Numpy window dict (from `Scaled.window`) + visibility + record-offset features [B, n, 2]
    -> keyword tensors for the model."""

    def put(key: str) -> torch.Tensor | None:
        a = win[key]
        return None if a is None else torch.from_numpy(np.asarray(a, np.float32)).to(device)

    values = put("values")
    times = put("times")
    assert values is not None and times is not None  # a window always has both
    return model_inputs(
        values,
        torch.from_numpy(visible).to(device),
        times,
        grid=grid,
        offset=offset.to(device),
        covariates=put("covariates"),
        static=put("static"),
        coords=put("coords"),
    )
