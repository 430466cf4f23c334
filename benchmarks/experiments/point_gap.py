"""Why does the ST-Transformer trail `neighbours` on the twin's random points?

The model sees, as context features, everything `neighbours` uses (the same day's 3 x 3 and
7 x 7 neighbour means and the pixel's record offset) plus the interpolation in time and the
covariates. This probe asks whether what the model is given per pixel-day (those features,
the day's covariates filled in time, the static maps) is enough: it fits readouts of it with
no attention, on points hidden from the training input the way
the protocol hides them, and scores them on the bench's own held-out values.

- `least_squares`: one linear readout of the features for every value.
- `least_squares_per_regime`: one per neighbour regime (a 3 x 3 neighbour seen that day, only
  a 7 x 7 one, none: `regime`).
- `boosted`: gradient-boosted trees on the same features, absolute-error loss.

Each is fitted on the ST-Transformer's training mix of hides and on the protocol's own hides,
and set beside the `neighbours` baseline itself on the same values.

If a readout of the features alone comes near `neighbours` and the ST-Transformer does not,
what holds the model back is its training, not what it is given.

    python benchmarks/experiments/point_gap.py 0 [point|day|block] > out.json

Runs in a minute or two on 2 cores. Results: benchmarks/README.md, "The point gap".
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingRegressor

import stimpute
from stimpute.bench.datasets import twin_problem
from stimpute.context import RecordOffset, model_inputs
from stimpute.covariates import with_gap_fill
from stimpute.masks import MODES, hide

DRAWS = 4  # training hides, each 20% of the observed values


def features(values: np.ndarray, covariates: np.ndarray, static: np.ndarray) -> np.ndarray:
    """Per pixel-day feature table (T * H * W, F) from the visible values (NaN elsewhere)."""
    t, h, w = values.shape
    flat = torch.from_numpy(values.reshape(1, t, h * w))
    visible = ~flat.isnan()
    offset = RecordOffset.of(flat[0], (h, w)).features(torch.zeros(1, t, dtype=torch.long), None)
    cov = torch.from_numpy(covariates.reshape(1, t, h * w, -1))
    kw = model_inputs(flat, visible, torch.zeros(1, t), grid=(h, w), offset=offset,
                      covariates=cov)  # fmt: skip
    ctx = kw["context"][0].numpy()  # (T, N, F)
    day = np.nan_to_num(covariates.reshape(t, h * w, -1))
    stat = np.broadcast_to(static.reshape(1, h * w, -1), (t, h * w, static.shape[-1]))
    return np.concatenate([ctx, day, stat], axis=-1).reshape(t * h * w, -1)


def regime(table: np.ndarray, n_cov: int) -> np.ndarray:
    """0 where a 3 x 3 neighbour is seen that day, 1 where only a 7 x 7 one is, 2 where none
    (the spatial counts' columns of `model_inputs`' context, which `features` puts first)."""
    s = 3 + 2 * n_cov  # first spatial column
    return np.where(table[:, s + 1] > 0, 0, np.where(table[:, s + 3] > 0, 1, 2))


def main(seed: int, protocol: str = "point") -> dict:
    p = twin_problem(protocol, seed=seed)
    assert p.covariates is not None and p.static is not None
    static = p.static  # narrowed: the closure below keeps the type
    t, h, w = p.values.shape
    cov = with_gap_fill(p.covariates.reshape(t, h * w, -1)).reshape(t, h, w, -1)
    observed = ~np.isnan(p.values)
    x_eval = features(p.values, cov, static)[p.eval_mask.ravel()]
    y_eval = p.target[p.eval_mask]
    n_cov = cov.shape[-1]
    out: dict = {"protocol": protocol, "seed": seed, "eval_rows": len(y_eval)}
    baseline = stimpute.Imputer("neighbours").fit(p.values, times=p.times)
    filled = baseline.impute(p.values, times=p.times).values
    out["neighbours"] = float(np.abs(filled[p.eval_mask] - y_eval).mean())

    def training_rows(hides: list[tuple[str, float]]) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed + 99)
        xs, ys = [], []
        for mode, rate in hides:
            held = hide(observed, rate, mode, rng, grid=p.values.shape[1:])
            table = features(np.where(held, np.nan, p.values), cov, static)
            xs.append(table[held.ravel()])
            ys.append(p.values[held])
        return np.concatenate(xs), np.concatenate(ys)

    r_eval = regime(x_eval, n_cov)

    def scored(pred: np.ndarray) -> float:
        return float(np.abs(pred - y_eval).mean())

    def least_squares(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
        coef, *_ = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y, rcond=None)
        return np.c_[at, np.ones(len(at))] @ coef

    def per_regime(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        pred, r = np.zeros(len(x_eval)), regime(x, n_cov)
        for k in range(3):
            pred[r_eval == k] = least_squares(x[r == k], y[r == k], x_eval[r_eval == k])
        return pred

    def boosted(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        trees = HistGradientBoostingRegressor(
            loss="absolute_error", max_iter=300, random_state=seed
        )
        return trees.fit(x, y).predict(x_eval)

    # the ST-Transformer's training hides: every mode at every rate
    x_mix, y_mix = training_rows([(m, r) for m in MODES for r in (0.2, 0.5, 0.8)])
    x_pt, y_pt = training_rows([(protocol, 0.2)] * DRAWS)
    out["train_rows"] = {"training_mix": len(y_mix), "protocol_hides_only": len(y_pt)}
    out["on_training_mix"] = {
        "least_squares": scored(least_squares(x_mix, y_mix, x_eval)),
        "least_squares_per_regime": scored(per_regime(x_mix, y_mix)),
        "boosted": scored(boosted(x_mix, y_mix)),
    }
    out["on_protocol_hides_only"] = {
        "least_squares": scored(least_squares(x_pt, y_pt, x_eval)),
        "boosted": scored(boosted(x_pt, y_pt)),
    }
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    json.dump(main(int(args[0]) if args else 0, *args[1:2]), sys.stdout, indent=1)
    print()
