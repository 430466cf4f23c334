"""Where do the shipped network's intervals miss on a twin's hidden days: on every day a little,
or on a few days by a lot?

One fit of the pipeline's network (`+rain +smooth 9 km`, the bench's `small` settings) on a twin
`day` problem, as `benchmarks/ablation.py` runs it; then, on the held-out values:

- coverage at 50 / 90% with the fitted factor, with none (the head's own std), and the factor
  the held-out values themselves would need (the oracle);
- per hidden day: values, bias, MAE, mean std, coverage at 90%, rain on that day and the two
  before (the region's mean);
- the coverage once each day's own bias is taken out: what is left when the errors a whole
  scene shares are removed, and the share of the squared error that such day-wide errors hold.

    python benchmarks/experiments/coverage_by_day.py bands 3 400 > out.json

Public APIs only (`twin_problem`, `run_model`). Results: benchmarks/README.md, "Where the bands
intervals miss on the day protocol".
"""

from __future__ import annotations

import json
import sys

import numpy as np

from stimpute.bench.__main__ import BUDGETS
from stimpute.bench.datasets import twin_problem
from stimpute.bench.runner import run_model
from stimpute.calibration import fit_factor
from stimpute.imputer import ImputeResult
from stimpute.metrics import coverage
from stimpute.simulate import COVARIATES


def main(family: str, seed: int, budget: float) -> dict:
    p = twin_problem("day", seed=seed, family=family)
    keep: dict[str, ImputeResult] = {}
    row = run_model(
        p,
        "st_transformer",
        seed=seed,
        time_budget_s=budget,
        st_hparams=dict(BUDGETS["small"]["st"]),
        keep=keep,
    )
    res = keep["st_transformer"]
    factor = float(row["std_scale"])
    e = p.eval_mask
    day_of = np.broadcast_to(np.arange(e.shape[0])[:, None, None], e.shape)[e]
    pred, target, std = res.values[e], p.target[e], res.std[e]
    err = pred - target
    raw = std / factor

    def cov(s: np.ndarray, x: np.ndarray = err) -> list[float]:
        return [coverage(x, s, np.zeros_like(x), level=q) for q in (0.5, 0.9)]

    assert p.covariates is not None  # a twin always has them
    rain = p.covariates[..., COVARIATES.index("precipitation")].mean(axis=(1, 2))
    days = []
    bias_of = np.zeros_like(err)
    for d in np.unique(day_of):
        at = day_of == d
        bias_of[at] = err[at].mean()
        days.append(
            {
                "day": int(d),
                "values": int(at.sum()),
                "bias": float(err[at].mean()),
                "mae": float(np.abs(err[at]).mean()),
                "std": float(std[at].mean()),
                "cov90": cov(std[at], err[at])[1],
                "rain_3d": float(rain[max(0, d - 2) : d + 1].sum()),
            }
        )
    residual = err - bias_of
    return {
        "family": family,
        "seed": seed,
        "mae": row["mae"],
        "truth_mae_all_gaps": row["truth_mae_all_gaps"],
        "train_steps": row.get("train_steps"),
        "factor": factor,
        "oracle_factor": fit_factor(np.abs(err) / raw) if len(err) else None,
        "coverage_fitted": cov(std),
        "coverage_head": cov(raw),
        "coverage_without_day_bias": cov(std, residual),
        "day_wide_share_of_mse": float(np.mean(bias_of**2) / np.mean(err**2)),
        "days": days,
    }


if __name__ == "__main__":
    family, seed, budget = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(main(family, seed, budget), indent=1))
