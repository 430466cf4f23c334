"""Input checking and the one internal layout: values (time, node), covariates (time, node, C)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from stimpute.covariates import with_gap_fill
from stimpute.errors import NoObservationsError, ShapeError


@dataclass(frozen=True)
class Layout:
    """How a user's array maps onto (time, node): a grid (H, W) or a point set."""

    n_time: int
    grid: tuple[int, int] | None
    n_node: int
    # several crops of one region learnt together (`Imputer.fit` given lists) are stacked as
    # this many bands of equal height down the grid; training draws each crop inside one band
    panels: int = 1

    @property
    def panel_height(self) -> int:
        assert self.grid is not None
        return self.grid[0] // self.panels

    @property
    def space_shape(self) -> tuple[int, ...]:
        return self.grid if self.grid is not None else (self.n_node,)

    def to_user(self, flat: np.ndarray) -> np.ndarray:
        """Reshape a (time, node) array back to the user's (time, *space)."""
        return flat.reshape((flat.shape[0], *self.space_shape))


@dataclass(frozen=True)
class Batch:
    """One validated problem in the internal layout (float32, NaN where missing)."""

    layout: Layout
    values: np.ndarray  # (T, N)
    covariates: np.ndarray | None  # (T, N, C), NaN where missing
    static: np.ndarray | None  # (N, S)
    coords: np.ndarray | None  # (N, 2)
    times: np.ndarray  # (T,) time index in steps, used for the periodic encodings
    prior: np.ndarray | None = None  # (T, N) a given prior field (`Imputer.fit`'s `prior`)
    rain_before: np.ndarray | None = None  # (L, N) the rain of the L days before the record

    @cached_property
    def observed(self) -> np.ndarray:
        return ~np.isnan(self.values)

    @cached_property
    def covariates_filled(self) -> np.ndarray | None:
        """(T, N, 3C): each covariate as given, filled in time, and its gap (covariates.py), as
        the baselines see them; the neural models build the same on their device."""
        return None if self.covariates is None else with_gap_fill(self.covariates)


def _as_float(name: str, array: object) -> np.ndarray:
    try:
        out = np.asarray(array, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"`{name}` must be a numeric array: {exc}") from exc
    return out


def _stack_panels(
    values: list | tuple,
    covariates: object | None,
    static: object | None,
    prior: object | None = None,
    rain_before: object | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Several (time, y, x) series of one shape, stacked down the rows into one grid; their
    covariates, static fields, priors and rain before the record (lists of the same length,
    or None) stacked alike."""
    vals = [_as_float(f"values[{i}]", v) for i, v in enumerate(values)]
    shapes = {v.shape for v in vals}
    if len(shapes) > 1:
        raise ShapeError(
            "a list of `values` must hold (time, y, x) grids of one shape, for several crops "
            f"of a region on one time axis; got shapes {[v.shape for v in vals]}"
        )

    def stack(name: str, arrays: object | None, axis: int) -> np.ndarray | None:
        if arrays is None:
            return None
        if not isinstance(arrays, list | tuple) or len(arrays) != len(vals):
            raise ShapeError(
                f"with {len(vals)} `values` arrays, `{name}` must be a list of {len(vals)} "
                f"arrays too (one per crop); got {type(arrays).__name__}"
            )
        parts = [_as_float(f"{name}[{i}]", a) for i, a in enumerate(arrays)]
        if len({a.shape for a in parts}) > 1:
            raise ShapeError(f"the `{name}` arrays differ in shape: {[a.shape for a in parts]}")
        return np.concatenate(parts, axis=axis)

    return (
        np.concatenate(vals, axis=1),
        stack("covariates", covariates, 1),
        stack("static", static, 0),
        stack("prior", prior, 1),
        stack("rain_before", rain_before, 1),
    )


def prepare(
    values: object,
    covariates: object | None = None,
    static: object | None = None,
    coords: object | None = None,
    times: object | None = None,
    *,
    prior: object | None = None,
    rain_before: object | None = None,
    require_observed: bool = True,
) -> Batch:
    """Validate user arrays and flatten space; raise ShapeError/NoObservationsError on bad input.

    `values` may be a list of grids of one shape (crops of a region on one time axis, with
    lists of covariates and static fields to match): they become bands of one grid
    (`Layout.panels`), which training keeps apart."""
    panels = 1
    if (
        isinstance(values, list | tuple)
        and values
        and all(isinstance(v, np.ndarray) and v.ndim == 3 for v in values)
    ):
        panels = len(values)
        values, covariates, static, prior, rain_before = _stack_panels(
            values, covariates, static, prior, rain_before
        )
    vals = _as_float("values", values)
    if vals.ndim == 3:
        n_time, height, width = vals.shape
        grid: tuple[int, int] | None = (height, width)
        n_node = height * width
    elif vals.ndim == 2:
        n_time, n_node = vals.shape
        grid = None
    else:
        raise ShapeError(
            f"`values` must be (time, y, x) for a grid or (time, node) for a point set; "
            f"got {vals.ndim} dimensions with shape {vals.shape}"
        )
    if n_time < 2 or n_node < 1:
        raise ShapeError(f"`values` needs at least 2 time steps and 1 node; got shape {vals.shape}")
    layout = Layout(n_time=n_time, grid=grid, n_node=n_node, panels=panels)
    space = layout.space_shape
    if np.isinf(vals).any():
        raise ShapeError("`values` contains +/-inf; mark missing values with NaN")
    if require_observed and not np.isfinite(vals).any():
        raise NoObservationsError("`values` has no observed (non-NaN) value: nothing to learn from")

    cov = None
    if covariates is not None:
        cov = _as_float("covariates", covariates)
        if cov.ndim != len(space) + 2 or cov.shape[:-1] != (n_time, *space):
            raise ShapeError(
                f"`covariates` must be (time, *space, C) = ({n_time}, {', '.join(map(str, space))}, C) "
                f"to match `values` {vals.shape}; got {cov.shape}"
            )
        cov = cov.reshape(n_time, n_node, cov.shape[-1])
        if np.isinf(cov).any():  # copy only when there is something to mark missing
            cov = np.where(np.isinf(cov), np.nan, cov)

    stat = None
    if static is not None:
        stat = _as_float("static", static)
        if stat.ndim != len(space) + 1 or stat.shape[:-1] != space:
            raise ShapeError(
                f"`static` must be (*space, S) = ({', '.join(map(str, space))}, S) "
                f"to match `values` {vals.shape}; got {stat.shape}"
            )
        stat = stat.reshape(n_node, stat.shape[-1])
        if not np.isfinite(stat).all():
            raise ShapeError(
                "`static` must be finite everywhere; fill or drop missing static covariates"
            )

    crd = None
    if coords is not None:
        crd = _as_float("coords", coords)
        if crd.shape != (n_node, 2):
            raise ShapeError(f"`coords` must be (node, 2) = ({n_node}, 2); got {crd.shape}")

    if times is None:
        tix = np.arange(n_time, dtype=np.float64)
    else:
        tix = np.asarray(times, dtype=np.float64)
        if tix.shape != (n_time,):
            raise ShapeError(f"`times` must be ({n_time},) to match `values`; got {tix.shape}")
    pri = None
    if prior is not None:
        pri = _as_float("prior", prior)
        if pri.shape != vals.shape or not np.isfinite(pri).all():
            raise ShapeError(
                f"`prior` must be finite and shaped like `values` {vals.shape}; got {pri.shape}"
            )
        pri = pri.reshape(n_time, n_node)
    before = None
    if rain_before is not None:
        before = _as_float("rain_before", rain_before)
        if before.ndim != len(space) + 1 or before.shape[1:] != space:
            raise ShapeError(
                f"`rain_before` must be (days, {', '.join(map(str, space))}) to match `values` "
                f"{vals.shape}; got {before.shape}"
            )
        before = before.reshape(len(before), n_node)
    return Batch(layout, vals.reshape(n_time, n_node), cov, stat, crd, tix, pri, before)
