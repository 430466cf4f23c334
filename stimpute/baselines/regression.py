"""Baselines that use the covariates: MICE across nodes and a random forest per pixel-day.

Both are transductive (they learn from the very array they fill), so `impute` refits them on
the array it is given; only their hyper-parameters are saved.
"""

from __future__ import annotations

import warnings

import numpy as np

from stimpute.baselines.base import GapCalibrated, fill_unseen_nodes, gap_distance
from stimpute.baselines.linear import interpolate_in_time
from stimpute.layout import Batch


def _leave_one_out_linear(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear-in-time value and gap distance at every (t, n) as if (t, n) itself were missing."""
    observed = ~np.isnan(values)
    interp = interpolate_in_time(values)
    dist = gap_distance(observed)
    n_time = values.shape[0]
    t = np.arange(n_time, dtype=np.float64)
    for node in range(values.shape[1]):
        idx = np.flatnonzero(observed[:, node])
        if idx.size < 2:
            continue
        col = values[idx, node]
        for k, ti in enumerate(idx):  # neighbours without the point itself
            keep = np.r_[0:k, k + 1 : idx.size]
            interp[ti, node] = np.interp(t[ti], t[idx[keep]], col[keep])
            dist[ti, node] = np.min(np.abs(idx[keep] - ti))
    return interp, dist


def _features(batch: Batch, *, leave_one_out: bool) -> np.ndarray:
    """(T, N, F) features: covariates + flags, static, season, node mean, linear value, gap."""
    values = batch.values.astype(np.float64)
    n_time, n_node = values.shape
    observed = ~np.isnan(values)
    counts = observed.sum(axis=0)
    sums = np.nansum(values, axis=0)
    if leave_one_out:
        interp, dist = _leave_one_out_linear(values)
        node_mean = np.where(
            observed, (sums - np.nan_to_num(values)) / np.maximum(counts - 1, 1), 0
        )
        node_mean = np.where(observed, node_mean, sums / np.maximum(counts, 1))
    else:
        interp, dist = interpolate_in_time(values), gap_distance(observed)
        node_mean = np.broadcast_to(sums / np.maximum(counts, 1), values.shape)
    cols = [interp, np.log1p(dist), node_mean]
    phase = 2 * np.pi * batch.times / 365.25
    cols += [
        np.broadcast_to(np.sin(phase)[:, None], values.shape),
        np.broadcast_to(np.cos(phase)[:, None], values.shape),
    ]
    feats = [np.stack(cols, axis=-1)]
    if batch.covariates_filled is not None:
        cov = batch.covariates_filled.astype(np.float64)
        miss = np.isnan(cov)
        fill = np.nanmean(np.where(miss, np.nan, cov), axis=(0, 1))
        feats += [np.where(miss, np.nan_to_num(fill), cov), miss.astype(np.float64)]
    if batch.static is not None:
        feats.append(
            np.broadcast_to(
                batch.static[None].astype(np.float64), (n_time, n_node, batch.static.shape[1])
            )
        )
    return np.nan_to_num(np.concatenate(feats, axis=-1), nan=float(np.nanmean(values)))


class RandomForest(GapCalibrated):
    """Random forest on covariates, static fields, season and leave-one-out temporal context."""

    name = "random_forest"

    def predict(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.ensemble import RandomForestRegressor

        observed = batch.observed
        train_x = _features(batch, leave_one_out=True)[observed]
        train_y = batch.values[observed].astype(np.float64)
        rng = np.random.default_rng(self.seed)
        max_rows = int(self.hparams.get("max_rows", 60_000))
        if train_y.size > max_rows:
            pick = rng.choice(train_y.size, max_rows, replace=False)
            train_x, train_y = train_x[pick], train_y[pick]
        forest = RandomForestRegressor(
            n_estimators=int(self.hparams.get("n_estimators", 60)),
            min_samples_leaf=5,
            max_features=0.5,
            n_jobs=-1,
            random_state=self.seed,
        )
        forest.fit(train_x, train_y)
        all_x = _features(batch, leave_one_out=False)
        mean = forest.predict(all_x.reshape(-1, all_x.shape[-1])).reshape(observed.shape)
        std = self.std_for(observed)
        return np.where(observed, batch.values, mean), std


class Mice(GapCalibrated):
    """Multiple imputation by chained equations (BayesianRidge) with nodes as columns.

    Rows are time steps; each node's series is regressed on its most correlated nodes and on
    the across-node means of the covariates, as the MICE baselines in the imputation literature.
    """

    name = "mice"

    def predict(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401
        from sklearn.impute import IterativeImputer

        values = batch.values.astype(np.float64)
        observed = batch.observed
        seen = observed.any(axis=0)
        table: list[np.ndarray] = [values[:, seen]]
        if batch.covariates_filled is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                cov_mean = np.nanmean(batch.covariates_filled.astype(np.float64), axis=1)
            fill = np.asarray(np.nanmean(cov_mean, axis=0), dtype=np.float64)
            table.append(np.asarray(np.where(np.isnan(cov_mean), fill, cov_mean), dtype=np.float64))
        table_arr = np.concatenate(table, axis=1)
        imputer = IterativeImputer(
            max_iter=int(self.hparams.get("max_iter", 8)),
            n_nearest_features=min(int(self.hparams.get("n_nearest", 30)), table_arr.shape[1]),
            random_state=self.seed,
            keep_empty_features=True,
            skip_complete=True,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            filled = imputer.fit_transform(table_arr)[:, : int(seen.sum())]
        mean = np.full(values.shape, np.nan)
        mean[:, seen] = filled
        mean = fill_unseen_nodes(mean)
        std = self.std_for(observed)
        return np.where(observed, values, mean), std
