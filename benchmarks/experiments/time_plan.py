"""One small-budget fit on a twin, then the held-out MAE of several plans of inference windows
in time, all on the same trained network (paired, free of training noise).

The cost of inference is the number of tokens: windows x window length per pixel-day. On a
365-day year with 72-day windows, the default stride (48) cuts 8 windows (1.58 tokens per
pixel-day); 6 windows (1.18) is the fewest that cover the year. A plan is (name, starts, taper
edge): `stride N` is `windows.starts` with that stride (the last window shifted in), `even N`
spreads N windows evenly and tapers over their smallest overlap.

PYTHONPATH=. python benchmarks/experiments/time_plan.py point 0 400 [out.json]
"""

import json
import sys
import time

import numpy as np

from stimpute import Imputer, metrics
from stimpute import inference as inf
from stimpute.bench.__main__ import BUDGETS
from stimpute.bench.datasets import twin_problem
from stimpute.windows import starts

protocol, seed, budget = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
p = twin_problem(protocol, seed=seed)
n_time = p.values.shape[0]
WINDOW = 72


def even(n: int) -> list[int]:
    return [int(round(s)) for s in np.linspace(0, n_time - WINDOW, n)]


def plan(kind: str, n: int) -> tuple[list[int], int]:
    if kind == "stride":
        return starts(n_time, WINDOW, n), WINDOW - n
    s = even(n)
    return s, int(min(WINDOW - np.diff(s)))


PLANS = {
    "stride 24": plan("stride", 24),
    "stride 48 (default)": plan("stride", 48),
    "even 8": plan("even", 8),
    "even 7": plan("even", 7),
    "even 6": plan("even", 6),
    "stride 72": plan("stride", 72),
}
CURRENT: list[list[int]] = []
orig_starts = inf.starts


def patched(length, window, stride):
    if length == n_time and window == WINDOW and CURRENT:
        return CURRENT[0]
    return orig_starts(length, window, stride)


inf.starts = patched  # type: ignore[assignment]

imp = Imputer("st_transformer", seed=seed, **dict(BUDGETS["small"]["st"]))
imp.fit(p.values, p.covariates, p.static, times=p.times, time_budget_s=budget)
e, gaps = p.eval_mask, np.isnan(p.values)
res: dict = {"protocol": protocol, "seed": seed, "steps": imp.method.report.steps, "plans": {}}
for name, (st, edge) in PLANS.items():
    CURRENT[:] = [st]
    imp.method.hparams["stride"] = WINDOW - edge  # the taper's edge is window - stride
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        r = imp.impute(p.values, p.covariates, p.static, times=p.times)
        best = min(best, time.perf_counter() - t0)
    m = metrics.summary(r.values, p.target, e, std=r.std)
    row = {
        "starts": st,
        "edge": edge,
        "tokens_per_pixel_day": len(st) * WINDOW / n_time,
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
