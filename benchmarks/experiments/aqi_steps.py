"""AQI-36 at the `full` budget with a different step cap: is the paper-size network still
learning at 3,000 steps?

One fit of the ST-Transformer on AQI-36's training months with the bench's `full` settings,
`max_steps` and the time budget overridden, then its MAE on the standard eval values and the
validation curve the training recorded (step, loss, validation MAE in scaled units).

    python benchmarks/experiments/aqi_steps.py 0 6000 7200 > out.json

Results: benchmarks/README.md, "AQI-36".
"""

from __future__ import annotations

import json
import sys

import numpy as np

from stimpute import Imputer
from stimpute.bench.__main__ import BUDGETS, SHARED_AQI
from stimpute.bench.datasets import aqi36_problem


def main(seed: int, max_steps: int, budget_s: float) -> dict:
    p = aqi36_problem(SHARED_AQI)
    rows = p.fit_rows
    assert rows is not None and p.times is not None
    settings = {**BUDGETS["full"]["st"], **p.st_hparams, "max_steps": max_steps}
    imp = Imputer("st_transformer", seed=seed, **settings)
    imp.fit(p.values[rows], None, None, p.coords, times=p.times[rows], time_budget_s=budget_s)
    res = imp.impute(p.values, None, None, p.coords, times=p.times)
    err = (res.values - p.target)[p.eval_mask]
    report = imp.method.report  # type: ignore[attr-defined]
    return {
        "seed": seed,
        "max_steps": max_steps,
        "time_budget_s": budget_s,
        "mae": float(np.abs(err).mean()),
        "bias": float(err.mean()),
        "steps": report.steps,
        "stopped_by": report.stopped_by,
        "fit_seconds": imp.fit_seconds,
        "std_scale": report.std_scale,
        "history": report.history,
    }


if __name__ == "__main__":
    seed, steps, budget = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(main(seed, steps, budget), indent=1))
