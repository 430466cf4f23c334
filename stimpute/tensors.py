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
        vals = (batch.values - scaler.value_mean) / scaler.value_std
        cov = None
        if (
            batch.covariates is not None
            and scaler.cov_mean is not None
            and scaler.cov_std is not None
        ):
            # asinh keeps the bulk linear and tames heavy tails (rain) so no input dominates
            cov = np.arcsinh((batch.covariates - scaler.cov_mean) / scaler.cov_std)
        stat = None
        if (
            batch.static is not None
            and scaler.static_mean is not None
            and scaler.static_std is not None
        ):
            stat = (batch.static - scaler.static_mean) / scaler.static_std
        crd = None
        if (
            batch.coords is not None
            and scaler.coord_min is not None
            and scaler.coord_span is not None
        ):
            crd = 2 * (batch.coords - scaler.coord_min) / scaler.coord_span - 1
        return cls(
            vals.astype(np.float32),
            None if cov is None else cov.astype(np.float32),
            None if stat is None else stat.astype(np.float32),
            None if crd is None else crd.astype(np.float32),
            batch.times,
            batch.layout.grid,
        )

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


def to_model_inputs(
    win: dict[str, np.ndarray | None], visible: np.ndarray, device: torch.device
) -> dict[str, Any]:
    """Numpy window dict + visibility -> keyword tensors for the model (NaN replaced by 0)."""
    vals = win["values"]
    assert vals is not None
    kw: dict[str, Any] = {
        "values": torch.from_numpy(np.where(visible, vals, 0.0).astype(np.float32)).to(device),
        "visible": torch.from_numpy(visible).to(device),
        "times": torch.from_numpy(np.asarray(win["times"], dtype=np.float32)).to(device),
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
