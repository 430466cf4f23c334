"""One small-budget fit on a twin, then the held-out MAE of several plans of inference windows
in time, all on the same trained network (paired, free of training noise).

The cost of inference is the number of tokens: windows x window length per pixel-day. On a
365-day year with 72-day windows, a stride of 48 cuts 8 windows (1.58 tokens per pixel-day); 6
windows (1.18) is the fewest that cover the year. A plan is a set of inference hparams:
`stride N` puts a window every N days with the last shifted in (`windows.starts`, the default
up to `b337b8f`), tapered over window - N days; `even N` is the `time_overlap` that spreads N
windows evenly (`windows.spread`, the default since: 7), tapered over the overlap they have.

PYTHONPATH=. python benchmarks/experiments/time_plan.py point 0 400 [out.json]

The results in `benchmarks/results/exp-window-plan/` were run from `baee192`, by an earlier form
of this script that patched `inference.starts`; the plans (starts and taper edges) are the same.
"""

import json
import sys
import time
from typing import Any

import numpy as np

from stimpute import Imputer, metrics
from stimpute.bench.__main__ import BUDGETS
from stimpute.bench.datasets import twin_problem

protocol, seed, budget = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
p = twin_problem(protocol, seed=seed)
n_time = p.values.shape[0]

PLANS = {
    "stride 24": {"stride": 24},
    "stride 48 (default)": {"stride": 48},
    "even 8": {"time_overlap": 30},
    "even 7": {"time_overlap": 18},
    "even 6": {"time_overlap": 12},
    "stride 72": {"stride": 72},
}

imp = Imputer("st_transformer", seed=seed, **dict(BUDGETS["small"]["st"]))
imp.fit(p.values, p.covariates, p.static, times=p.times, time_budget_s=budget)
method: Any = imp.method  # a TransformerMethod: its report and window plan are read
e, gaps = p.eval_mask, np.isnan(p.values)
res: dict = {"protocol": protocol, "seed": seed, "steps": method.report.steps, "plans": {}}
for name, hparams in PLANS.items():
    imp.set_inference(**{"stride": None, "time_overlap": None, **hparams})
    starts, edge = method.window_plan(n_time)
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        r = imp.impute(p.values, p.covariates, p.static, times=p.times)
        best = min(best, time.perf_counter() - t0)
    m = metrics.summary(r.values, p.target, e, std=r.std)
    row = {
        "starts": starts,
        "edge": edge,
        "tokens_per_pixel_day": len(starts) * method.window / n_time,
        "mae": m["mae"],
        "coverage90": m["coverage90"],
        "truth_mae_eval": metrics.mae(r.values, p.truth, e),
        "truth_mae_all_gaps": metrics.mae(r.values, p.truth, gaps),
        "impute_seconds": best,
    }
    res["plans"][name] = row
    print(name, json.dumps({k: v for k, v in row.items() if k != "starts"}), flush=True)
print(json.dumps(res, indent=1))
if len(sys.argv) > 4:
    with open(sys.argv[4], "w") as f:
        json.dump(res, f, indent=1)
