"""Does averaging more overlapping time windows at inference lower the error?

One fit of the ST-Transformer (the bench's settings for the problem and budget), then the same
fitted model fills the problem again with each time stride (`InferConfig.stride`; the default
spreads windows a quarter window apart). Each fill is scored on the problem's eval values and,
on a twin, on every gap against the truth. Public API only (`Imputer.set_inference`).

    python benchmarks/experiments/infer_stride.py aqi36 small 0 "default,9,4,1" > out.json
    python benchmarks/experiments/infer_stride.py day small 0 "default,18,9,4" > out.json

Results: benchmarks/README.md, "Window offsets of both parities on a CPU; two probes for AQI-36".
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np

from stimpute import Imputer
from stimpute.bench.__main__ import BUDGETS, SHARED_AQI
from stimpute.bench.datasets import Problem, aqi36_problem, twin_problem


def problem_for(name: str, seed: int) -> Problem:
    """AQI-36, or a twin protocol named `[family:]protocol` (its own settings are the shipped
    add-ons, as the ablation's default row)."""
    if name == "aqi36":
        return aqi36_problem(SHARED_AQI)
    family, _, protocol = name.rpartition(":")
    return twin_problem(protocol, seed=seed, family=family or "bands")


def main(name: str, budget: str, seed: int, strides: list[int | None]) -> dict:
    p = problem_for(name, seed)
    settings = {**BUDGETS[budget]["st"], **p.st_hparams}
    imp = Imputer("st_transformer", seed=seed, **settings)
    rows = p.fit_rows

    def sub(a: Any) -> Any:
        return a if a is None or rows is None else a[rows]

    rain = p.rain_before if settings.get("rain_covariate") is not None else None
    imp.fit(sub(p.values), sub(p.covariates), p.static, p.coords, times=sub(p.times),
            time_budget_s=BUDGETS[budget]["time_budget_s"],
            rain_before=rain if rows is None else None)  # fmt: skip
    out: dict[str, Any] = {"problem": name, "budget": budget, "seed": seed, "fills": []}
    gaps = np.isnan(p.values)
    for stride in strides:
        imp.set_inference(stride=stride)
        t0 = time.perf_counter()
        res = imp.impute(p.values, p.covariates, p.static, p.coords, times=p.times,
                         rain_before=rain)  # fmt: skip
        row = {"stride": stride, "seconds": time.perf_counter() - t0,
               "mae": float(np.abs(res.values - p.target)[p.eval_mask].mean())}  # fmt: skip
        if p.truth is not None:
            row["truth_mae_all_gaps"] = float(np.abs(res.values - p.truth)[gaps].mean())
        out["fills"].append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return out


if __name__ == "__main__":
    name, budget, seed, spec = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    chosen = [None if s == "default" else int(s) for s in spec.split(",")]
    print(json.dumps(main(name, budget, seed, chosen), indent=1))
